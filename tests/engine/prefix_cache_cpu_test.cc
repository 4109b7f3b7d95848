// Prefix caching over the real CPU backend on stories260K: a request whose prefix is cached
// computes fewer prompt tokens and yields bit-identical greedy tokens and logprobs to an
// uncached run; the golden continuation resumes from the cached KV of an earlier generation;
// preemption with shared blocks keeps every token, and the pool drains back.
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

struct Result {
  std::vector<SampledToken> tokens;
  int prefill_tokens = 0;
  int hit_tokens = 0;
  int preempted = 0;
};

class PrefixCacheCpuTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ifstream in(kModelDir + "/golden.json");
    if (!in) GTEST_SKIP() << "stories260K not found under " << kModelDir;
    std::stringstream text;
    text << in.rdbuf();
    const nlohmann::json golden = nlohmann::json::parse(text.str());
    golden_prompt_ = golden.at("prompt_token_ids").get<std::vector<int32_t>>();
    golden_output_ = golden.at("greedy").at("output_token_ids").get<std::vector<int32_t>>();
    auto config = ModelConfig::FromDir(kModelDir);
    ASSERT_TRUE(config.ok()) << config.status();
    config_ = *config;
    auto weights = WeightStore::Open(kModelDir, config_);
    ASSERT_TRUE(weights.ok()) << weights.status();
    weights_ = std::move(*weights);
  }

  std::unique_ptr<Engine> MakeEngine(int num_kv_blocks, int block_size, bool caching,
                                     int max_num_seqs = 8) {
    CpuBackendOptions backend_options;
    backend_options.num_threads = 2;
    backend_options.block_size = block_size;
    backend_options.num_kv_blocks = num_kv_blocks;
    auto backend = CreateCpuBackend(config_, *weights_, backend_options);
    EXPECT_TRUE(backend.ok()) << backend.status();
    if (!backend.ok()) return nullptr;
    EngineOptions options;
    options.max_num_seqs = max_num_seqs;
    options.max_num_batched_tokens = 64;
    options.enable_prefix_caching = caching;
    auto engine = Engine::Create(std::move(*backend), options);
    EXPECT_TRUE(engine.ok()) << engine.status();
    return engine.ok() ? std::move(*engine) : nullptr;
  }

  // Runs the requests to completion; per id, the sampled tokens, plus the run's totals.
  static std::map<int64_t, Result> Run(Engine* engine,
                                       const std::vector<GenerationRequest>& requests) {
    std::map<int64_t, Result> out;
    for (const GenerationRequest& r : requests) EXPECT_TRUE(engine->Add(r).ok());
    Result totals;
    for (int step = 0; engine->HasWork() && step < 4000; ++step) {
      std::vector<TokenEvent> events;
      StepStats stats;
      const absl::Status status = engine->Step(&events, &stats);
      if (!status.ok()) {
        ADD_FAILURE() << status;
        break;
      }
      totals.prefill_tokens += stats.num_prefill_tokens;
      totals.hit_tokens += stats.num_prefix_hit_tokens;
      totals.preempted += stats.num_preempted;
      for (const TokenEvent& e : events) out[e.id].tokens.push_back(e.token);
    }
    EXPECT_FALSE(engine->HasWork());
    out[-1] = totals;
    return out;
  }

  static GenerationRequest Greedy(int64_t id, std::vector<int32_t> prompt, int max_tokens) {
    GenerationRequest r;
    r.id = id;
    r.prompt = std::move(prompt);
    r.max_tokens = max_tokens;
    r.sampling.temperature = 0.0f;
    r.sampling.logprobs = true;
    r.sampling.top_logprobs = 5;
    r.ignore_eos = true;
    return r;
  }

  static std::vector<int32_t> RandomTokens(std::mt19937* rng, int n) {
    std::vector<int32_t> t;
    for (int i = 0; i < n; ++i) t.push_back(259 + (*rng)() % (512 - 259));
    return t;
  }

  static std::vector<int32_t> Ids(const std::vector<SampledToken>& tokens) {
    std::vector<int32_t> ids;
    for (const SampledToken& t : tokens) ids.push_back(t.token);
    return ids;
  }

  // Same ids, logprobs and top logprobs, bit for bit.
  static void ExpectIdentical(const std::vector<SampledToken>& a,
                              const std::vector<SampledToken>& b) {
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].token, b[i].token) << "token " << i;
      EXPECT_EQ(a[i].logprob, b[i].logprob) << "token " << i;
      EXPECT_EQ(a[i].top_logprobs, b[i].top_logprobs) << "token " << i;
    }
  }

  std::vector<int32_t> golden_prompt_, golden_output_;
  ModelConfig config_;
  std::unique_ptr<WeightStore> weights_;
};

TEST_F(PrefixCacheCpuTest, CachedPrefixGivesIdenticalTokensAndLogprobs) {
  std::mt19937 rng(11);
  std::vector<int32_t> shared = {1};
  for (int32_t t : RandomTokens(&rng, 52)) shared.push_back(t);
  std::vector<int32_t> a = shared, b = shared;
  for (int32_t t : RandomTokens(&rng, 7)) a.push_back(t);
  for (int32_t t : RandomTokens(&rng, 5)) b.push_back(t);

  auto uncached = MakeEngine(64, 16, /*caching=*/false);
  ASSERT_NE(uncached, nullptr);
  auto reference = Run(uncached.get(), {Greedy(2, b, 24)});
  EXPECT_EQ(reference[-1].prefill_tokens, static_cast<int>(b.size()));

  auto cached = MakeEngine(64, 16, /*caching=*/true);
  ASSERT_NE(cached, nullptr);
  auto first = Run(cached.get(), {Greedy(1, a, 24)});
  EXPECT_EQ(first[-1].hit_tokens, 0);
  auto second = Run(cached.get(), {Greedy(2, b, 24)});
  EXPECT_EQ(second[-1].hit_tokens, 48);  // three full blocks of the 53 shared tokens
  EXPECT_EQ(second[-1].prefill_tokens, static_cast<int>(b.size()) - 48);
  ExpectIdentical(second[2].tokens, reference[2].tokens);
}

// The golden generation leaves its history (prompt + output) cached; a follow-up whose prompt
// is that history's first part continues with exactly the golden tokens, from cached KV that
// was written by decode steps.
TEST_F(PrefixCacheCpuTest, GoldenContinuationResumesFromCachedHistory) {
  auto engine = MakeEngine(64, 4, true);
  ASSERT_NE(engine, nullptr);
  const int n = static_cast<int>(golden_output_.size());
  auto first = Run(engine.get(), {Greedy(1, golden_prompt_, n)});
  ASSERT_EQ(Ids(first[1].tokens), golden_output_);
  std::vector<int32_t> follow = golden_prompt_;
  follow.insert(follow.end(), golden_output_.begin(), golden_output_.begin() + 20);  // 25
  auto second = Run(engine.get(), {Greedy(2, follow, n - 20)});
  EXPECT_EQ(second[-1].hit_tokens, 24);
  EXPECT_EQ(second[-1].prefill_tokens, 1);
  EXPECT_EQ(Ids(second[2].tokens),
            std::vector<int32_t>(golden_output_.begin() + 20, golden_output_.end()));
}

TEST_F(PrefixCacheCpuTest, PreemptionWithSharedBlocksKeepsTokensAndDrains) {
  std::mt19937 rng(5);
  std::vector<int32_t> shared = {1};
  for (int32_t t : RandomTokens(&rng, 31)) shared.push_back(t);
  std::vector<GenerationRequest> requests;
  for (int i = 0; i < 8; ++i) {
    std::vector<int32_t> p = shared;
    for (int32_t t : RandomTokens(&rng, 3 + 5 * i)) p.push_back(t);
    requests.push_back(Greedy(i, p, 24));
  }
  auto roomy = MakeEngine(256, 8, /*caching=*/false);
  ASSERT_NE(roomy, nullptr);
  auto reference = Run(roomy.get(), requests);
  EXPECT_EQ(reference[-1].preempted, 0);

  // 16 blocks of 8 = 128 slots: the largest request (32 + 38 + 23 = 93 slots) fits alone, and
  // sharing the 32-token prefix is not enough for all eight at their ends.
  auto tight = MakeEngine(16, 8, /*caching=*/true);
  ASSERT_NE(tight, nullptr);
  auto constrained = Run(tight.get(), requests);
  EXPECT_GT(constrained[-1].preempted, 0);
  EXPECT_GT(constrained[-1].hit_tokens, 0);
  for (const GenerationRequest& r : requests) {
    SCOPED_TRACE("request " + std::to_string(r.id));
    ExpectIdentical(constrained[r.id].tokens, reference[r.id].tokens);
  }
  EXPECT_EQ(tight->Capacity().free_kv_blocks, 16);
}

}  // namespace
}  // namespace corvid
