// The CPU backend on the real stories260K model against golden data computed by an independent
// float64 reference (see shared/models/README.md), plus the invariances the engine relies on:
// chunked prefill = one-shot prefill, thread count and batch composition change nothing.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/cpu_backend.h"
#include "engine/direct_step.h"
#include "engine/model_config.h"
#include "engine/weights.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace corvid {
namespace {


struct Golden {
  std::vector<int32_t> prompt;
  std::vector<int32_t> greedy;
  std::map<int, std::vector<std::pair<int32_t, double>>> top5;  // by position
  std::vector<double> last_prompt_logits;
};

std::string ModelDir(const std::string& folder) {
#ifdef CORVID_TEST_MODELS_DIR
  return std::string(CORVID_TEST_MODELS_DIR) + "/" + folder;
#else
  return "";
#endif
}

bool ReadGolden(const std::string& dir, Golden* g, std::string* error) {
  try {
    std::ifstream in(dir + "/golden.json");
    const nlohmann::json j = nlohmann::json::parse(in);
    g->prompt = j.at("prompt_token_ids").get<std::vector<int32_t>>();
    g->greedy = j.at("greedy").at("output_token_ids").get<std::vector<int32_t>>();
    for (const auto& entry : j.at("logits")) {
      auto& list = g->top5[entry.at("position").get<int>()];
      for (const auto& e : entry.at("top5")) {
        list.emplace_back(e.at("id").get<int32_t>(), e.at("logit").get<double>());
      }
    }
    g->last_prompt_logits = j.at("last_prompt_position_logits_full").get<std::vector<double>>();
  } catch (const nlohmann::json::exception& e) {
    *error = e.what();
    return false;
  }
  return true;
}

// The CPU backend keeps activations and accumulation in fp32 on weights widened exactly from
// the stored dtype, which is what every folder's golden assumes: one tolerance for all three.
constexpr double kRelTol = 1e-4;

void ExpectLogitNear(double got, double want, const std::string& where) {
  EXPECT_NEAR(got, want, kRelTol * std::max(1.0, std::fabs(want))) << where;
}

class CpuBackendGolden : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    dir_ = ModelDir(GetParam());
    if (dir_.empty() || !std::filesystem::exists(dir_ + "/golden.json")) {
      GTEST_SKIP() << "test model folder not found: " << dir_
                   << " (set CORVID_TEST_MODELS_DIR to shared/models)";
    }
    std::string error;
    ASSERT_TRUE(ReadGolden(dir_, &golden_, &error)) << error;
    auto config = ModelConfig::FromDir(dir_);
    ASSERT_TRUE(config.ok()) << config.status();
    config_ = *config;
    auto store = WeightStore::Open(dir_, config_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }

  std::unique_ptr<Backend> Make(int threads, int block_size = 16) {
    CpuBackendOptions o;
    o.num_threads = threads;
    o.block_size = block_size;
    o.num_kv_blocks = 64;
    o.parallel_min_flops = 0;  // always use the team, however small the step
    auto b = CreateCpuBackend(config_, *store_, o);
    EXPECT_TRUE(b.ok()) << b.status();
    return b.ok() ? std::move(*b) : nullptr;
  }

  // Runs one step; returns the logits rows (one per sampled sequence) and appends sampled
  // tokens to their sequences' outputs.
  std::vector<float> Step(Backend& backend, const std::vector<StepChunk>& chunks) {
    StepBatch batch = BuildStep(chunks, backend.kv_geometry().block_size);
    StepResult result;
    const absl::Status st = backend.Execute(batch, &result);
    EXPECT_TRUE(st.ok()) << st;
    size_t j = 0;
    for (const StepChunk& c : chunks) {
      if (c.sample && j < result.tokens.size()) c.seq->output.push_back(result.tokens[j++].token);
    }
    return result.logits;
  }

  // Prompt in one step, then greedy decode: `steps` tokens; all logits rows concatenated.
  std::vector<float> GreedyRun(Backend& backend, DirectSeq* seq, int steps) {
    std::vector<float> all = Step(backend, {{seq, seq->prompt, true}});
    for (int i = 1; i < steps; ++i) {
      const std::vector<float> row = Step(backend, {{seq, {seq->output.back()}, true}});
      all.insert(all.end(), row.begin(), row.end());
    }
    return all;
  }

  DirectSeq GreedySeq() const {
    DirectSeq s;
    s.prompt = golden_.prompt;
    s.sampling.temperature = 0.0f;
    return s;
  }

  std::string dir_;
  Golden golden_;
  ModelConfig config_;
  std::unique_ptr<WeightStore> store_;
};

TEST_P(CpuBackendGolden, LogitsMatchGoldenTokenByToken) {
  auto backend = Make(2);
  ASSERT_NE(backend, nullptr);
  DirectSeq seq = GreedySeq();
  const int vocab = config_.vocab_size;
  for (size_t pos = 0; pos < golden_.prompt.size(); ++pos) {
    const std::vector<float> logits = Step(*backend, {{&seq, {golden_.prompt[pos]}, true}});
    ASSERT_EQ(logits.size(), static_cast<size_t>(vocab));
    auto it = golden_.top5.find(static_cast<int>(pos));
    if (it != golden_.top5.end()) {
      for (size_t r = 0; r < it->second.size(); ++r) {
        const auto& [id, want] = it->second[r];
        ExpectLogitNear(logits[id], want, "position " + std::to_string(pos));
        int rank = 0;  // the golden top-5 order must be ours too
        for (int v = 0; v < vocab; ++v) rank += logits[v] > logits[id];
        EXPECT_EQ(rank, static_cast<int>(r)) << "position " << pos << " id " << id;
      }
    }
    if (pos + 1 == golden_.prompt.size()) {
      for (int v = 0; v < vocab; ++v) {
        ExpectLogitNear(logits[v], golden_.last_prompt_logits[v], "id " + std::to_string(v));
      }
    }
  }
  EXPECT_EQ(golden_.top5.size(), 3u);
}

TEST_P(CpuBackendGolden, OneShotPrefillMatchesGolden) {
  auto backend = Make(2);
  ASSERT_NE(backend, nullptr);
  DirectSeq seq = GreedySeq();
  const std::vector<float> logits = Step(*backend, {{&seq, seq.prompt, true}});
  ASSERT_EQ(logits.size(), golden_.last_prompt_logits.size());
  double max_diff = 0.0;
  for (size_t v = 0; v < logits.size(); ++v) {
    ExpectLogitNear(logits[v], golden_.last_prompt_logits[v], "id " + std::to_string(v));
    max_diff = std::max(max_diff, std::fabs(logits[v] - golden_.last_prompt_logits[v]));
  }
  RecordProperty("max_abs_logit_diff", std::to_string(max_diff));
  EXPECT_EQ(seq.output, std::vector<int32_t>{golden_.greedy[0]});
}

TEST_P(CpuBackendGolden, GreedyContinuationIsTokenIdentical) {
  auto backend = Make(2);
  ASSERT_NE(backend, nullptr);
  DirectSeq seq = GreedySeq();
  GreedyRun(*backend, &seq, static_cast<int>(golden_.greedy.size()));
  EXPECT_EQ(seq.output, golden_.greedy);
}

// Invariances, on the F32 model only (they compare the backend with itself, bit for bit).
class CpuBackendInvariance : public CpuBackendGolden {};

TEST_P(CpuBackendInvariance, ChunkedPrefillEqualsOneShot) {
  // 20 tokens: the prompt and the start of its continuation, over blocks of 4.
  std::vector<int32_t> tokens = golden_.prompt;
  tokens.insert(tokens.end(), golden_.greedy.begin(), golden_.greedy.begin() + 15);
  auto one_shot = Make(2, 4);
  auto chunked = Make(2, 4);
  ASSERT_TRUE(one_shot && chunked);
  DirectSeq a = GreedySeq(), b = GreedySeq();
  a.prompt = b.prompt = tokens;
  const std::vector<float> want = Step(*one_shot, {{&a, tokens, true}});
  const std::vector<int32_t> c1(tokens.begin(), tokens.begin() + 3);
  const std::vector<int32_t> c2(tokens.begin() + 3, tokens.begin() + 10);
  const std::vector<int32_t> c3(tokens.begin() + 10, tokens.end());
  EXPECT_TRUE(Step(*chunked, {{&b, c1, false}}).empty());  // no logits for an unsampled chunk
  EXPECT_TRUE(Step(*chunked, {{&b, c2, false}}).empty());
  const std::vector<float> got = Step(*chunked, {{&b, c3, true}});
  EXPECT_EQ(got, want);
  EXPECT_EQ(b.output, a.output);
  // One token per step (the backend's fused decode path) lands on the same bits too.
  auto stepwise = Make(2, 4);
  DirectSeq d = GreedySeq();
  d.prompt = tokens;
  std::vector<float> last;
  for (size_t i = 0; i < tokens.size(); ++i) {
    last = Step(*stepwise, {{&d, {tokens[i]}, i + 1 == tokens.size()}});
  }
  EXPECT_EQ(last, want);
  // And the decode that follows agrees too, so the cached K/V are the same.
  EXPECT_EQ(Step(*chunked, {{&b, {b.output.back()}, true}}),
            Step(*one_shot, {{&a, {a.output.back()}, true}}));
}

TEST_P(CpuBackendInvariance, ThreadCountDoesNotChangeResults) {
  auto one = Make(1);
  auto two = Make(2);
  auto three = Make(3);
  ASSERT_TRUE(one && two && three);
  DirectSeq a = GreedySeq(), b = GreedySeq(), c = GreedySeq();
  const std::vector<float> logits1 = GreedyRun(*one, &a, 12);
  EXPECT_EQ(GreedyRun(*two, &b, 12), logits1);
  EXPECT_EQ(GreedyRun(*three, &c, 12), logits1);
}

// A seeded, sampled request gets the same logits and tokens alone and inside mixed batches
// (other prefills, decodes and an unsampled chunk around it, at other batch positions).
TEST_P(CpuBackendInvariance, BatchCompositionDoesNotChangeResults) {
  auto alone_backend = Make(2);
  auto batch_backend = Make(2);
  ASSERT_TRUE(alone_backend && batch_backend);
  auto make_a = [&] {
    DirectSeq s = GreedySeq();
    s.id = 1;
    s.sampling.temperature = 0.9f;
    s.sampling.top_p = 0.9f;
    s.sampling.seed = 42;
    return s;
  };
  DirectSeq a = make_a();
  const int steps = 8;
  std::vector<float> want = Step(*alone_backend, {{&a, a.prompt, true}});
  for (int i = 1; i < steps; ++i) {
    const auto row = Step(*alone_backend, {{&a, {a.output.back()}, true}});
    want.insert(want.end(), row.begin(), row.end());
  }
  DirectSeq a2 = make_a(), b = GreedySeq(), c = GreedySeq();
  a2.first_block = 10;
  b.id = 2;
  b.first_block = 20;
  b.prompt = {1, 385, 261, 376, 298, 315, 421};
  c.id = 3;
  c.first_block = 30;
  c.prompt = {1, 317, 383, 286};
  const int v = config_.vocab_size;
  std::vector<float> got;
  auto take = [&](const std::vector<float>& rows, int index) {
    got.insert(got.end(), rows.begin() + index * v, rows.begin() + (index + 1) * v);
  };
  take(Step(*batch_backend, {{&b, b.prompt, true}, {&a2, a2.prompt, true}}), 1);
  take(Step(*batch_backend, {{&a2, {a2.output.back()}, true}, {&c, {1, 317}, false}}), 0);
  take(Step(*batch_backend, {{&c, {383, 286}, true},
                             {&b, {b.output.back()}, true},
                             {&a2, {a2.output.back()}, true}}),
       2);
  for (int i = 3; i < steps; ++i) {
    take(Step(*batch_backend, {{&b, {b.output.back()}, true},
                               {&a2, {a2.output.back()}, true},
                               {&c, {c.output.back()}, true}}),
         1);
  }
  EXPECT_EQ(got, want);
  EXPECT_EQ(a2.output, a.output);
}

TEST_P(CpuBackendInvariance, RejectsMalformedBatches) {
  auto backend = Make(1);
  ASSERT_NE(backend, nullptr);
  DirectSeq seq = GreedySeq();
  const StepBatch good = BuildStep({{&seq, seq.prompt, true}}, 16);
  StepResult result;
  auto expect_invalid = [&](StepBatch bad, const char* what) {
    EXPECT_EQ(backend->Execute(bad, &result).code(), absl::StatusCode::kInvalidArgument) << what;
  };
  StepBatch bad = good;
  bad.block_ids[0] = backend->kv_geometry().num_blocks;
  expect_invalid(bad, "block id out of range");
  bad = good;
  bad.positions[2] = 7;
  expect_invalid(bad, "position");
  bad = good;
  bad.token_ids[0] = config_.vocab_size;
  expect_invalid(bad, "token id");
  bad = good;
  bad.seqs[0].sampling = nullptr;
  expect_invalid(bad, "sampling params");
  bad = good;
  bad.seqs[0].context_len = 17;  // one block cannot hold it
  expect_invalid(bad, "blocks");
  bad = good;
  bad.block_indptr = {0};
  expect_invalid(bad, "indptr");
  EXPECT_TRUE(backend->Execute(good, &result).ok());
  EXPECT_EQ(result.tokens.size(), 1u);
  StepBatch empty;
  empty.block_indptr = {0};
  EXPECT_TRUE(backend->Execute(empty, &result).ok());
  EXPECT_TRUE(result.tokens.empty());
}

INSTANTIATE_TEST_SUITE_P(F32, CpuBackendInvariance, ::testing::Values("stories260K"));

INSTANTIATE_TEST_SUITE_P(Folders, CpuBackendGolden,
                         ::testing::Values("stories260K", "stories260K-bf16", "stories260K-f16"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n) c = std::isalnum(c) ? c : '_';
                           return n;
                         });

}  // namespace
}  // namespace corvid
