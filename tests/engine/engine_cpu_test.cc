// The engine over the real CPU backend on stories260K: the golden greedy continuation, batch
// and chunking invariance, and preemption by recompute, all token for token.
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "engine/cpu_backend.h"
#include "engine/engine.h"
#include "engine/model_config.h"
#include "engine/weights.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace corvid {
namespace {

const std::string kModelDir = std::string(CORVID_TEST_MODELS_DIR) + "/stories260K";

struct Golden {
  std::vector<int32_t> prompt;
  std::vector<int32_t> output;
};

class EngineCpuTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ifstream in(kModelDir + "/golden.json");
    if (!in) GTEST_SKIP() << "stories260K not found under " << kModelDir;
    std::stringstream text;
    text << in.rdbuf();
    const nlohmann::json golden = nlohmann::json::parse(text.str());
    golden_.prompt = golden.at("prompt_token_ids").get<std::vector<int32_t>>();
    golden_.output = golden.at("greedy").at("output_token_ids").get<std::vector<int32_t>>();
    auto config = ModelConfig::FromDir(kModelDir);
    ASSERT_TRUE(config.ok()) << config.status();
    config_ = *config;
    auto weights = WeightStore::Open(kModelDir, config_);
    ASSERT_TRUE(weights.ok()) << weights.status();
    weights_ = std::move(*weights);
  }

  std::unique_ptr<Engine> MakeEngine(int num_kv_blocks, int block_size, EngineOptions options) {
    CpuBackendOptions backend_options;
    backend_options.num_threads = 2;
    backend_options.block_size = block_size;
    backend_options.num_kv_blocks = num_kv_blocks;
    auto backend = CreateCpuBackend(config_, *weights_, backend_options);
    EXPECT_TRUE(backend.ok()) << backend.status();
    if (!backend.ok()) return nullptr;
    auto engine = Engine::Create(std::move(*backend), options);
    EXPECT_TRUE(engine.ok()) << engine.status();
    return engine.ok() ? std::move(*engine) : nullptr;
  }

  // Runs every request to completion; returns tokens per id, and optionally the preemptions and
  // the number of steps that ran prefill tokens.
  std::map<int64_t, std::vector<int32_t>> Run(Engine* engine,
                                              const std::vector<GenerationRequest>& requests,
                                              int* preempted = nullptr,
                                              int* prefill_steps_out = nullptr) {
    std::map<int64_t, std::vector<int32_t>> out;
    for (const GenerationRequest& r : requests) {
      EXPECT_TRUE(engine->Add(r).ok());
    }
    int preemptions = 0, prefill_steps = 0;
    for (int step = 0; engine->HasWork() && step < 4000; ++step) {
      std::vector<TokenEvent> events;
      StepStats stats;
      const absl::Status status = engine->Step(&events, &stats);
      if (!status.ok()) {
        ADD_FAILURE() << status;
        break;
      }
      preemptions += stats.num_preempted;
      prefill_steps += stats.num_prefill_tokens > 0;
      for (const TokenEvent& e : events) out[e.id].push_back(e.token.token);
    }
    EXPECT_FALSE(engine->HasWork());
    if (preempted != nullptr) *preempted = preemptions;
    if (prefill_steps_out != nullptr) *prefill_steps_out = prefill_steps;
    return out;
  }

  static GenerationRequest Greedy(int64_t id, std::vector<int32_t> prompt, int max_tokens) {
    GenerationRequest r;
    r.id = id;
    r.prompt = std::move(prompt);
    r.max_tokens = max_tokens;
    r.sampling.temperature = 0.0f;
    return r;
  }

  // The golden prompt (id 0) and seven more prompts of different lengths (ids 1..7).
  std::vector<GenerationRequest> EightRequests() const {
    std::vector<GenerationRequest> requests = {
        Greedy(0, golden_.prompt, static_cast<int>(golden_.output.size()))};
    std::mt19937 rng(2024);
    const int lengths[] = {3, 47, 12, 29, 64, 8, 21};
    for (int i = 0; i < 7; ++i) {
      std::vector<int32_t> prompt = {1};  // BOS, then ordinary vocabulary pieces
      for (int t = 1; t < lengths[i]; ++t) prompt.push_back(259 + rng() % (512 - 259));
      GenerationRequest r = Greedy(i + 1, prompt, 20 + 3 * i);
      r.ignore_eos = true;  // fixed lengths, whatever the model says
      requests.push_back(r);
    }
    return requests;
  }

  Golden golden_;
  ModelConfig config_;
  std::unique_ptr<WeightStore> weights_;
};

TEST_F(EngineCpuTest, GoldenGreedyContinuation) {
  auto engine = MakeEngine(64, 16, EngineOptions{});
  ASSERT_NE(engine, nullptr);
  auto out = Run(engine.get(), {Greedy(0, golden_.prompt, 40)});
  EXPECT_EQ(out[0], golden_.output);
}

TEST_F(EngineCpuTest, GreedyTokensDoNotDependOnTheBatchOrChunking) {
  const std::vector<GenerationRequest> requests = EightRequests();
  std::map<int64_t, std::vector<int32_t>> alone;
  for (const GenerationRequest& r : requests) {
    auto engine = MakeEngine(64, 16, EngineOptions{});
    ASSERT_NE(engine, nullptr);
    alone[r.id] = Run(engine.get(), {r})[r.id];
  }
  EXPECT_EQ(alone[0], golden_.output);

  EngineOptions options;
  options.max_num_seqs = 8;
  options.max_num_batched_tokens = 16;  // the 64-token prompt needs 4+ chunks
  auto engine = MakeEngine(128, 16, options);
  ASSERT_NE(engine, nullptr);
  int prefill_steps = 0;
  auto together = Run(engine.get(), requests, nullptr, &prefill_steps);
  EXPECT_GE(prefill_steps, 4);
  for (const GenerationRequest& r : requests) {
    EXPECT_EQ(together[r.id], alone[r.id]) << "request " << r.id;
  }
}

TEST_F(EngineCpuTest, PreemptionKeepsGreedyTokensIdentical) {
  const std::vector<GenerationRequest> requests = EightRequests();
  EngineOptions options;
  options.max_num_seqs = 8;
  options.max_num_batched_tokens = 64;
  auto roomy = MakeEngine(128, 8, options);
  ASSERT_NE(roomy, nullptr);
  int preempted = 0;
  auto reference = Run(roomy.get(), requests, &preempted);
  EXPECT_EQ(preempted, 0);
  EXPECT_EQ(reference[0], golden_.output);

  // 14 blocks of 8 = 112 slots: the largest request (64 + 32 - 1 = 95 slots) fits alone, but
  // the eight together (about 420 slots at their ends) do not.
  auto tight = MakeEngine(14, 8, options);
  ASSERT_NE(tight, nullptr);
  auto constrained = Run(tight.get(), requests, &preempted);
  EXPECT_GT(preempted, 0);
  for (const GenerationRequest& r : requests) {
    EXPECT_EQ(constrained[r.id], reference[r.id]) << "request " << r.id;
  }
  EXPECT_EQ(tight->Capacity().free_kv_blocks, 14);
}

}  // namespace
}  // namespace corvid
