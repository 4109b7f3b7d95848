// The CUDA backend end to end: stories260K (BF16, F16) greedy tokens against the golden data and
// the CPU backend, batch invariance (a request alone, in a batch of 64, mixed with prefills,
// with and without CUDA graphs, chunked or not), seeded sampling invariance, and synthetic
// head_dim 64/128 models (tensor-core prefill) against the CPU backend's logits.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine/cpu_backend.h"
#include "engine/cuda/cuda_backend.h"
#include "engine/direct_step.h"
#include "engine/model_config.h"
#include "engine/status_macros.h"
#include "engine/weights.h"
#include "nlohmann/json.hpp"
#include "tests/gpu/gpu_test_util.h"

namespace corvid {
namespace {


constexpr int kBlockSize = 16;

std::string ModelDir(const std::string& folder) {
  return std::string(CORVID_TEST_MODELS_DIR) + "/" + folder;
}

struct Golden {
  std::vector<int32_t> prompt, greedy;
};

bool ReadGolden(const std::string& dir, Golden* g) {
  try {
    std::ifstream in(dir + "/golden.json");
    const nlohmann::json j = nlohmann::json::parse(in);
    g->prompt = j.at("prompt_token_ids").get<std::vector<int32_t>>();
    g->greedy = j.at("greedy").at("output_token_ids").get<std::vector<int32_t>>();
  } catch (const nlohmann::json::exception& e) {
    ADD_FAILURE() << e.what();
    return false;
  }
  return true;
}

CudaBackendOptions SmallOptions() {
  CudaBackendOptions o;
  o.num_kv_blocks = 1024;
  o.max_num_seqs = 64;
  o.max_num_batched_tokens = 4096;
  o.block_size = kBlockSize;
  return o;
}

// Runs sequences to completion in lock-step: `start_step[i]` is the step at which sequence i's
// prompt is fed (as one chunk, or chunks of `chunk` tokens), then it decodes `steps` tokens.
// Returns every sequence's output; `logits` (if set) gets sequence 0's logits per sample.
absl::Status RunSeqs(Backend* b, std::vector<DirectSeq>* seqs, const std::vector<int>& start_step,
                 int steps, int chunk, std::vector<std::vector<float>>* logits = nullptr) {
  int next_block = 0;
  for (DirectSeq& s : *seqs) {
    s.first_block = next_block;
    next_block += (static_cast<int>(s.prompt.size()) + steps + kBlockSize) / kBlockSize + 1;
  }
  std::vector<size_t> fed(seqs->size(), 0);
  for (int step = 0;; ++step) {
    std::vector<StepChunk> chunks;
    std::vector<int> owner;
    for (size_t i = 0; i < seqs->size(); ++i) {
      DirectSeq& s = (*seqs)[i];
      if (step < start_step[i] || static_cast<int>(s.output.size()) >= steps) continue;
      if (fed[i] < s.prompt.size()) {
        const size_t n = chunk > 0 ? std::min<size_t>(chunk, s.prompt.size() - fed[i])
                                   : s.prompt.size() - fed[i];
        std::vector<int32_t> toks(s.prompt.begin() + fed[i], s.prompt.begin() + fed[i] + n);
        fed[i] += n;
        chunks.push_back({&s, toks, fed[i] == s.prompt.size()});
      } else {
        chunks.push_back({&s, {s.output.back()}, true});
      }
      owner.push_back(static_cast<int>(i));
    }
    if (chunks.empty()) {
      bool pending = false;
      for (size_t i = 0; i < seqs->size(); ++i) pending |= step < start_step[i];
      if (!pending) return absl::OkStatus();
      continue;
    }
    StepBatch batch = BuildStep(chunks, kBlockSize, logits != nullptr);
    StepResult result;
    RETURN_IF_ERROR(b->Execute(batch, &result));
    size_t r = 0;
    for (size_t c = 0; c < chunks.size(); ++c) {
      if (!chunks[c].sample) continue;
      if (logits && owner[c] == 0) {
        const int v = b->config().vocab_size;
        logits->emplace_back(result.logits.begin() + r * v, result.logits.begin() + (r + 1) * v);
      }
      chunks[c].seq->output.push_back(result.tokens[r++].token);
    }
  }
}

std::vector<int32_t> GreedyAlone(Backend* b, const std::vector<int32_t>& prompt, int steps,
                                 int chunk = 0) {
  std::vector<DirectSeq> seqs(1);
  seqs[0].prompt = prompt;
  seqs[0].sampling.temperature = 0.0f;
  const absl::Status st = RunSeqs(b, &seqs, {0}, steps, chunk);
  EXPECT_TRUE(st.ok()) << st;
  return seqs[0].output;
}

class StoriesTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    CORVID_SKIP_WITHOUT_GPU();
    dir_ = ModelDir(GetParam());
    if (!std::filesystem::exists(dir_ + "/golden.json")) GTEST_SKIP() << "no test model " << dir_;
    ASSERT_TRUE(ReadGolden(dir_, &golden_));
    auto config = ModelConfig::FromDir(dir_);
    ASSERT_TRUE(config.ok()) << config.status();
    config_ = *config;
    auto weights = WeightStore::Open(dir_, config_);
    ASSERT_TRUE(weights.ok()) << weights.status();
    weights_ = std::move(*weights);
  }
  std::unique_ptr<Backend> MakeGpu(CudaBackendOptions o = SmallOptions()) {
    auto b = CreateCudaBackend(config_, weights_.get(), o);
    EXPECT_TRUE(b.ok()) << b.status();
    return b.ok() ? std::move(*b) : nullptr;
  }
  std::string dir_;
  Golden golden_;
  ModelConfig config_;
  std::unique_ptr<WeightStore> weights_;
};

TEST_P(StoriesTest, GreedyMatchesGoldenAndCpuBackend) {
  auto gpu = MakeGpu();
  ASSERT_NE(gpu, nullptr);
  CpuBackendOptions co;
  co.num_threads = 2;
  auto cpu = CreateCpuBackend(config_, *weights_, co);
  ASSERT_TRUE(cpu.ok()) << cpu.status();
  const int steps = static_cast<int>(golden_.greedy.size());
  const auto gpu_tokens = GreedyAlone(gpu.get(), golden_.prompt, steps);
  EXPECT_EQ(gpu_tokens, golden_.greedy);
  EXPECT_EQ(gpu_tokens, GreedyAlone(cpu->get(), golden_.prompt, steps));
  // Chunked prefill (2-token chunks) gives the same tokens.
  EXPECT_EQ(GreedyAlone(gpu.get(), golden_.prompt, steps, 2), gpu_tokens);
}

TEST_P(StoriesTest, RequestIsBatchInvariant) {
  auto gpu = MakeGpu();
  ASSERT_NE(gpu, nullptr);
  const int steps = 40;
  const auto alone = GreedyAlone(gpu.get(), golden_.prompt, steps);
  std::mt19937 gen(17);
  std::uniform_int_distribution<int> tok(3, config_.vocab_size - 1), len(2, 40);
  for (bool graphs : {true, false}) {
    for (bool staggered : {false, true}) {
      CudaBackendOptions o = SmallOptions();
      o.cuda_graphs = graphs;
      auto b = MakeGpu(o);
      ASSERT_NE(b, nullptr);
      std::vector<DirectSeq> seqs(64);
      std::vector<int> start(64, 0);
      const int probe = staggered ? 40 : 17;
      for (int i = 0; i < 64; ++i) {
        seqs[i].id = i + 1;
        seqs[i].sampling.temperature = 0.0f;
        if (i == probe) {
          seqs[i].prompt = golden_.prompt;
        } else {
          for (int n = len(gen); n > 0; --n) seqs[i].prompt.push_back(tok(gen));
        }
        // Staggered: later sequences' prefills share steps with earlier ones' decodes.
        if (staggered) start[i] = i / 8;
      }
      ASSERT_TRUE(RunSeqs(b.get(), &seqs, start, steps, staggered ? 7 : 0).ok());
      EXPECT_EQ(seqs[probe].output, alone) << "graphs=" << graphs << " staggered=" << staggered;
    }
  }
}

TEST_P(StoriesTest, SeededSamplingIsBatchInvariant) {
  auto gpu = MakeGpu();
  ASSERT_NE(gpu, nullptr);
  SamplingParams p;
  p.temperature = 0.8f;
  p.top_p = 0.9f;
  p.top_k = 40;
  p.repetition_penalty = 1.1f;
  p.seed = 42;
  std::vector<DirectSeq> alone(1);
  alone[0].prompt = golden_.prompt;
  alone[0].sampling = p;
  ASSERT_TRUE(RunSeqs(gpu.get(), &alone, {0}, 30, 0).ok());
  std::vector<DirectSeq> batch(9);
  for (int i = 0; i < 9; ++i) {
    batch[i].id = i + 1;
    batch[i].prompt = golden_.prompt;
    batch[i].prompt.push_back(10 + i);
    batch[i].sampling = p;
    batch[i].sampling.seed = 100 + i;
  }
  batch[4].prompt = golden_.prompt;
  batch[4].sampling = p;
  ASSERT_TRUE(RunSeqs(gpu.get(), &batch, std::vector<int>(9, 0), 30, 0).ok());
  EXPECT_EQ(batch[4].output, alone[0].output);
  EXPECT_NE(batch[3].output, alone[0].output);  // other seeds, other tokens
}

INSTANTIATE_TEST_SUITE_P(Dtypes, StoriesTest,
                         ::testing::Values("stories260K-bf16", "stories260K-f16"));

ModelConfig SyntheticConfig(int heads, int kv_heads) {
  ModelConfig c;
  c.architecture = "LlamaForCausalLM";
  c.model_type = "llama";
  c.hidden_size = 256;
  c.intermediate_size = 520;
  c.num_layers = 2;
  c.num_heads = heads;
  c.num_kv_heads = kv_heads;
  c.head_dim = 256 / heads;
  c.vocab_size = 1000;
  c.max_position_embeddings = 1024;
  c.rms_norm_eps = 1e-5;
  c.rope_theta = 500000.0;
  c.dtype = DType::kBF16;
  return c;
}

// Logits of a 150-token prompt and 3 forced decode steps: GPU (chunked prefill, tensor-core
// attention) against the fp32 CPU backend, and GPU chunked against GPU one-shot, bit for bit.
TEST(CudaBackendSynthetic, FlashPrefillModelsMatchCpuBackend) {
  CORVID_SKIP_WITHOUT_GPU();
  for (int heads : {4, 2}) {  // head_dim 64 and 128
    const ModelConfig c = SyntheticConfig(heads, heads / 2);
    auto weights = WeightStore::Dummy(c, DType::kBF16, 3);
    ASSERT_TRUE(weights.ok()) << weights.status();
    auto gpu = CreateCudaBackend(c, weights->get(), SmallOptions());
    ASSERT_TRUE(gpu.ok()) << gpu.status();
    CpuBackendOptions co;
    co.num_threads = 2;
    auto cpu = CreateCpuBackend(c, **weights, co);
    ASSERT_TRUE(cpu.ok()) << cpu.status();
    std::mt19937 gen(5);
    std::vector<int32_t> prompt;
    for (int i = 0; i < 150; ++i) prompt.push_back(static_cast<int32_t>(gen() % 1000));
    auto logits_of = [&](Backend* b, int chunk) {
      std::vector<DirectSeq> s(1);
      s[0].prompt = prompt;
      s[0].sampling.temperature = 0.0f;
      std::vector<std::vector<float>> logits;
      EXPECT_TRUE(RunSeqs(b, &s, {0}, 4, chunk, &logits).ok());
      return std::make_pair(s[0].output, logits);
    };
    const auto [cpu_tokens, cpu_logits] = logits_of(cpu->get(), 0);
    const auto [gpu_tokens, gpu_logits] = logits_of(gpu->get(), 64);
    const auto [gpu_tokens1, gpu_logits1] = logits_of(gpu->get(), 0);
    EXPECT_EQ(gpu_logits, gpu_logits1) << "chunked prefill changed the bits";
    ASSERT_EQ(gpu_logits.size(), cpu_logits.size());
    // Compare step by step while the two greedy paths agree (the context is then identical).
    for (size_t i = 0; i < cpu_logits.size(); ++i) {
      std::vector<double> ref(cpu_logits[i].begin(), cpu_logits[i].end());
      EXPECT_LT(gputest::RelError(gpu_logits[i], ref), 3e-2) << "head_dim " << c.head_dim
                                                             << " step " << i;
      if (gpu_tokens[i] != cpu_tokens[i]) break;
    }
  }
}

// The tensor-core decode kernel (head_dim 128, split-KV merged inside the launch): a request
// alone and inside a batch of 64 (with or without graphs, with prefills in the same steps) gives
// the same greedy tokens. Prompts over 128 tokens make the rows split.
TEST(CudaBackendSynthetic, TensorCoreDecodeIsBatchInvariant) {
  CORVID_SKIP_WITHOUT_GPU();
  const ModelConfig c = SyntheticConfig(2, 1);
  auto weights = WeightStore::Dummy(c, DType::kBF16, 4);
  ASSERT_TRUE(weights.ok()) << weights.status();
  std::mt19937 gen(23);
  std::uniform_int_distribution<int> tok(0, c.vocab_size - 1), len(20, 400);
  std::vector<int32_t> prompt;
  for (int i = 0; i < 300; ++i) prompt.push_back(tok(gen));
  const int steps = 24;
  auto alone_backend = CreateCudaBackend(c, weights->get(), SmallOptions());
  ASSERT_TRUE(alone_backend.ok()) << alone_backend.status();
  const auto alone = GreedyAlone(alone_backend->get(), prompt, steps);
  for (bool graphs : {true, false}) {
    CudaBackendOptions o = SmallOptions();
    o.cuda_graphs = graphs;
    o.num_kv_blocks = 4096;
    auto b = CreateCudaBackend(c, weights->get(), o);
    ASSERT_TRUE(b.ok()) << b.status();
    std::vector<DirectSeq> seqs(64);
    std::vector<int> start(64, 0);
    for (int i = 0; i < 64; ++i) {
      seqs[i].id = i + 1;
      seqs[i].sampling.temperature = 0.0f;
      if (i == 33) {
        seqs[i].prompt = prompt;
      } else {
        for (int n = len(gen); n > 0; --n) seqs[i].prompt.push_back(tok(gen));
      }
      start[i] = i / 8;  // later prefills share steps with earlier decodes (<= 8 x 400 tokens)
    }
    const absl::Status st = RunSeqs(b->get(), &seqs, start, steps, 0);
    ASSERT_TRUE(st.ok()) << st;
    EXPECT_EQ(seqs[33].output, alone) << "graphs=" << graphs;
  }
}

TEST(CudaBackend, RejectsMalformedSteps) {
  CORVID_SKIP_WITHOUT_GPU();
  const ModelConfig c = SyntheticConfig(4, 2);
  auto gpu = CreateCudaBackend(c, nullptr, SmallOptions());  // random device weights
  ASSERT_TRUE(gpu.ok()) << gpu.status();
  DirectSeq s;
  s.prompt = {1, 2, 3};
  s.sampling.temperature = 0.0f;
  StepBatch good = BuildStep({{&s, s.prompt, true}}, kBlockSize);
  StepResult r;
  ASSERT_TRUE((*gpu)->Execute(good, &r).ok());
  ASSERT_EQ(r.tokens.size(), 1u);
  StepBatch bad_block = good;
  bad_block.block_ids[0] = 1 << 20;
  EXPECT_EQ((*gpu)->Execute(bad_block, &r).code(), absl::StatusCode::kInvalidArgument);
  StepBatch bad_token = good;
  bad_token.token_ids[1] = 5000;
  EXPECT_EQ((*gpu)->Execute(bad_token, &r).code(), absl::StatusCode::kInvalidArgument);
  StepBatch bad_pos = good;
  bad_pos.positions[2] = 7;
  EXPECT_EQ((*gpu)->Execute(bad_pos, &r).code(), absl::StatusCode::kInvalidArgument);
}

TEST(CudaBackend, MemoryBudgetBoundsTheKvPool) {
  CORVID_SKIP_WITHOUT_GPU();
  const ModelConfig c = SyntheticConfig(4, 2);
  CudaBackendOptions o = SmallOptions();
  o.num_kv_blocks = 0;
  o.gpu_memory_budget = int64_t{1} << 30;
  auto gpu = CreateCudaBackend(c, nullptr, o);
  ASSERT_TRUE(gpu.ok()) << gpu.status();
  auto info = DescribeCudaBackend(**gpu);
  ASSERT_TRUE(info.ok());
  EXPECT_GT(info->num_kv_blocks, 0);
  EXPECT_LE(info->weight_bytes + info->activation_bytes + info->kv_bytes, o.gpu_memory_budget);
  EXPECT_EQ((*gpu)->kv_geometry().num_blocks, info->num_kv_blocks);
  o.gpu_memory_budget = 1 << 20;  // smaller than the weights
  EXPECT_EQ(CreateCudaBackend(c, nullptr, o).status().code(),
            absl::StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace corvid
