// A steady stream of decode steps must not allocate: the backend keeps its buffers between
// steps and starts no threads per step. Counted by replacing the global operator new.
#include <atomic>
#include <cstdlib>
#include <new>
#include <vector>

#include "engine/cpu_backend.h"
#include "engine/direct_step.h"
#include "engine/model_presets.h"
#include "engine/weights.h"
#include "gtest/gtest.h"

namespace {
std::atomic<long> g_allocations{0};
}  // namespace

// This file replaces the global allocation functions with malloc/free (as the standard allows);
// GCC cannot tell that they pair up.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

void* operator new(size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n > 0 ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace corvid {
namespace {

TEST(CpuBackendAllocations, DecodeStepsAllocateNothing) {
  auto config = PresetConfig("tiny");
  ASSERT_TRUE(config.ok());
  auto store = WeightStore::Dummy(*config, DType::kF32, 3);
  ASSERT_TRUE(store.ok());
  CpuBackendOptions options;
  options.num_threads = 2;
  options.num_kv_blocks = 16;
  options.parallel_min_flops = 0;
  auto backend = CreateCpuBackend(*config, **store, options);
  ASSERT_TRUE(backend.ok());

  // Three sequences; prefill to 17 tokens, so the decode steps below (contexts 18..30) reuse
  // buffers already grown for their sizes.
  std::vector<DirectSeq> seqs(3);
  std::vector<StepChunk> prefill;
  for (int i = 0; i < 3; ++i) {
    seqs[i].first_block = 4 * i;
    seqs[i].sampling.temperature = i == 0 ? 0.0f : 0.7f;
    seqs[i].sampling.top_p = 0.9f;
    seqs[i].sampling.seed = i;
    seqs[i].prompt.assign(17, 5 + i);
    prefill.push_back({&seqs[i], seqs[i].prompt, true});
  }
  StepResult result;
  StepBatch batch = BuildStep(prefill, 16, false);
  ASSERT_TRUE((*backend)->Execute(batch, &result).ok());
  // Build every decode batch first: building allocates, running must not.
  std::vector<StepBatch> steps;
  for (int s = 0; s < 13; ++s) {
    std::vector<StepChunk> chunks;
    for (auto& seq : seqs) chunks.push_back({&seq, {7}, true});
    steps.push_back(BuildStep(chunks, 16, false));
  }
  for (auto& seq : seqs) seq.output.reserve(64);
  ASSERT_TRUE((*backend)->Execute(steps[0], &result).ok());  // warm the sampler's buffers
  const long before = g_allocations.load();
  for (size_t s = 1; s < steps.size(); ++s) {
    ASSERT_TRUE((*backend)->Execute(steps[s], &result).ok());
    for (size_t i = 0; i < seqs.size(); ++i) seqs[i].output.push_back(result.tokens[i].token);
  }
  EXPECT_EQ(g_allocations.load() - before, 0);
  EXPECT_EQ(seqs[0].output.size(), 12u);
}

}  // namespace
}  // namespace corvid
