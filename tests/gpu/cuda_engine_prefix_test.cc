// The engine's prefix caching over the CUDA backend, on the real stories260K (BF16 and F16): a
// request whose prompt repeats an earlier request's prompt reuses its full KV blocks, computes
// only the rest, and gives bit-identical greedy tokens and logprobs to the same requests on an
// engine without caching; all equal the golden continuation. (The reused blocks were written by
// a prefill, as they would be without caching, and a prefill chunk over earlier context gives
// the same bits as one-shot: the backend tests check that.)
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/cuda/cuda_backend.h"
#include "engine/engine.h"
#include "engine/model_config.h"
#include "engine/weights.h"
#include "nlohmann/json.hpp"
#include "tests/gpu/gpu_test_util.h"

namespace corvid {
namespace {

struct Outcome {
  std::map<int64_t, std::vector<SampledToken>> tokens;
  int hit_tokens = 0;
  int prefill_tokens = 0;
};

class CudaEnginePrefixTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    CORVID_SKIP_WITHOUT_GPU();
    const std::string dir = std::string(CORVID_TEST_MODELS_DIR) + "/" + GetParam();
    if (!std::filesystem::exists(dir + "/golden.json")) GTEST_SKIP() << "no test model " << dir;
    try {
      std::ifstream in(dir + "/golden.json");
      const nlohmann::json j = nlohmann::json::parse(in);
      prompt_ = j.at("prompt_token_ids").get<std::vector<int32_t>>();
      greedy_ = j.at("greedy").at("output_token_ids").get<std::vector<int32_t>>();
    } catch (const nlohmann::json::exception& e) {
      FAIL() << e.what();
    }
    auto config = ModelConfig::FromDir(dir);
    ASSERT_TRUE(config.ok()) << config.status();
    config_ = *config;
    auto weights = WeightStore::Open(dir, config_);
    ASSERT_TRUE(weights.ok()) << weights.status();
    weights_ = std::move(*weights);
  }

  std::unique_ptr<Engine> MakeEngine(bool caching) {
    CudaBackendOptions o;
    o.num_kv_blocks = 256;
    o.max_num_seqs = 16;
    o.max_num_batched_tokens = 512;
    o.block_size = 16;
    auto backend = CreateCudaBackend(config_, weights_.get(), o);
    EXPECT_TRUE(backend.ok()) << backend.status();
    if (!backend.ok()) return nullptr;
    EngineOptions options;
    options.max_num_seqs = 16;
    options.max_num_batched_tokens = 512;
    options.enable_prefix_caching = caching;
    auto engine = Engine::Create(std::move(*backend), options);
    EXPECT_TRUE(engine.ok()) << engine.status();
    return engine.ok() ? std::move(*engine) : nullptr;
  }

  static GenerationRequest Greedy(int64_t id, std::vector<int32_t> prompt, int max_tokens) {
    GenerationRequest r;
    r.id = id;
    r.prompt = std::move(prompt);
    r.max_tokens = max_tokens;
    r.ignore_eos = true;
    r.sampling.temperature = 0.0f;
    r.sampling.logprobs = true;
    r.sampling.top_logprobs = 3;
    return r;
  }

  // Runs one request to completion, adding its tokens and counters to *run.
  static void RunOne(Engine* engine, const GenerationRequest& request, Outcome* run) {
    ASSERT_TRUE(engine->Add(request).ok());
    for (int step = 0; engine->HasWork() && step < 1000; ++step) {
      std::vector<TokenEvent> events;
      StepStats stats;
      const absl::Status status = engine->Step(&events, &stats);
      ASSERT_TRUE(status.ok()) << status;
      run->hit_tokens += stats.num_prefix_hit_tokens;
      run->prefill_tokens += stats.num_prefill_tokens;
      for (const TokenEvent& e : events) {
        if (e.token.token >= 0) run->tokens[e.id].push_back(e.token);
      }
    }
    EXPECT_FALSE(engine->HasWork());
  }

  // Two requests, one after the other, whose prompt is the golden prompt plus the first `k`
  // golden tokens; each generates the rest of the golden continuation.
  Outcome RunPair(bool caching, int k) {
    Outcome run;
    std::unique_ptr<Engine> engine = MakeEngine(caching);
    if (engine == nullptr) return run;
    std::vector<int32_t> prompt = prompt_;
    prompt.insert(prompt.end(), greedy_.begin(), greedy_.begin() + k);
    const int rest = static_cast<int>(greedy_.size()) - k;
    RunOne(engine.get(), Greedy(1, prompt, rest), &run);
    RunOne(engine.get(), Greedy(2, prompt, rest), &run);
    return run;
  }

  ModelConfig config_;
  std::unique_ptr<WeightStore> weights_;
  std::vector<int32_t> prompt_, greedy_;
};

TEST_P(CudaEnginePrefixTest, CachedPrefixGivesTheSameTokensAndLogprobs) {
  const int k = 30;  // 5 + 30 = 35 prompt tokens: two full 16-token blocks can be reused
  ASSERT_GT(static_cast<int>(greedy_.size()), k);
  const Outcome cached = RunPair(true, k);
  const Outcome plain = RunPair(false, k);
  ASSERT_EQ(cached.tokens.size(), 2u);
  ASSERT_EQ(plain.tokens.size(), 2u);

  EXPECT_EQ(cached.hit_tokens, 32);
  EXPECT_EQ(plain.hit_tokens, 0);
  EXPECT_EQ(plain.prefill_tokens - cached.prefill_tokens, 32);

  const std::vector<int32_t> golden_rest(greedy_.begin() + k, greedy_.end());
  // Every request, cached or not, against request 1 of the engine without caching, bit for bit.
  const std::vector<SampledToken>& ref = plain.tokens.at(1);
  std::vector<int32_t> ref_ids;
  for (const SampledToken& t : ref) ref_ids.push_back(t.token);
  EXPECT_EQ(ref_ids, golden_rest);
  for (const Outcome* run : {&cached, &plain}) {
    for (int64_t id : {1, 2}) {
      const std::vector<SampledToken>& a = run->tokens.at(id);
      ASSERT_EQ(a.size(), ref.size());
      for (size_t i = 0; i < a.size(); ++i) {
        const std::string where = std::string(run == &cached ? "cached" : "plain") +
                                  " request " + std::to_string(id) + " token " +
                                  std::to_string(i);
        EXPECT_EQ(a[i].token, ref[i].token) << where;
        EXPECT_EQ(a[i].logprob, ref[i].logprob) << where;
        EXPECT_EQ(a[i].top_logprobs, ref[i].top_logprobs) << where;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Stories, CudaEnginePrefixTest,
                         ::testing::Values("stories260K-bf16", "stories260K-f16"));

}  // namespace
}  // namespace corvid
