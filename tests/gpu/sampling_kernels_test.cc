// On-device sampling against the CPU sampler (engine/sampler.h) on identical logits: greedy,
// temperature, top-k, top-p, min-p, penalties, flat distributions, logprobs and top-n, many
// seeds, a small and a Llama-3-sized vocabulary.
#include <cmath>
#include <random>
#include <vector>

#include "engine/cuda/sampling_inputs.h"
#include "engine/sampler.h"
#include "kernels/sampling.h"
#include "tests/gpu/gpu_test_util.h"

namespace corvid {
namespace {

using gputest::DeviceArray;

std::vector<float> NormalLogits(int n, uint32_t seed, float scale) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

struct Case {
  SamplingParams p;
  bool flat = false;
};

std::vector<Case> Cases() {
  std::vector<Case> cases;
  auto add = [&](float temp, int k, float top_p, float min_p, float rep, float pres, float freq,
                 int top_n, bool flat = false) {
    Case c;
    c.p.temperature = temp;
    c.p.top_k = k;
    c.p.top_p = top_p;
    c.p.min_p = min_p;
    c.p.repetition_penalty = rep;
    c.p.presence_penalty = pres;
    c.p.frequency_penalty = freq;
    c.p.top_logprobs = top_n;
    c.p.logprobs = true;
    c.flat = flat;
    cases.push_back(c);
  };
  add(0.0f, 0, 1.0f, 0.0f, 1.0f, 0.0f, 0.0f, 5);
  add(0.8f, 0, 1.0f, 0.0f, 1.0f, 0.0f, 0.0f, 0);
  add(1.0f, 50, 1.0f, 0.0f, 1.0f, 0.0f, 0.0f, 3);
  add(0.7f, 0, 0.9f, 0.0f, 1.0f, 0.0f, 0.0f, 0);
  add(1.2f, 0, 1.0f, 0.05f, 1.0f, 0.0f, 0.0f, 0);
  add(0.9f, 100, 0.8f, 0.01f, 1.0f, 0.0f, 0.0f, 20);
  add(0.0f, 0, 1.0f, 0.0f, 1.3f, 0.5f, 0.3f, 2);
  add(1.0f, 0, 0.95f, 0.0f, 1.2f, 0.2f, 0.1f, 0);
  add(1.0f, 7, 1.0f, 0.0f, 1.0f, 0.0f, 0.0f, 4, /*flat=*/true);
  add(1.0f, 0, 0.5f, 0.0f, 1.0f, 0.0f, 0.0f, 0, /*flat=*/true);
  return cases;
}

void RunAndCompare(int vocab, int seeds, uint32_t logit_seed) {
  const std::vector<Case> cases = Cases();
  const std::vector<float> base = NormalLogits(vocab, logit_seed, 3.0f);
  const std::vector<float> flat(vocab, 0.25f);
  std::vector<int32_t> prompt = {3, 3, 9, 14, 100 % vocab};
  std::vector<std::vector<int32_t>> outputs;
  std::vector<SamplingParams> params;
  std::vector<float> logits;
  for (const Case& c : cases) {
    for (int s = 0; s < seeds; ++s) {
      SamplingParams p = c.p;
      p.seed = 1000 + s;
      params.push_back(p);
      std::vector<int32_t> out;
      for (int i = 0; i < s % 6; ++i) out.push_back((7 * i + s) % vocab);
      outputs.push_back(out);
      const auto& src = c.flat ? flat : base;
      logits.insert(logits.end(), src.begin(), src.end());
    }
  }
  const int rows = static_cast<int>(params.size());
  StepBatch batch;
  std::vector<int> logits_rows;
  for (int r = 0; r < rows; ++r) {
    StepSequence s;
    s.sample = true;
    s.sampling = &params[r];
    s.prompt = &prompt;
    s.output = &outputs[r];
    batch.seqs.push_back(s);
    logits_rows.push_back(r);
  }
  std::vector<kernels::SamplingRow> row_params;
  std::vector<kernels::PenaltyEntry> entries;
  cuda::BuildSamplingInputs(batch, logits_rows, &row_params, &entries);
  ASSERT_EQ(static_cast<int>(row_params.size()), rows);

  DeviceArray<float> d_logits;
  d_logits.Upload(logits);
  DeviceArray<kernels::SamplingRow> d_rows;
  d_rows.Upload(row_params);
  DeviceArray<kernels::PenaltyEntry> d_entries;
  d_entries.Upload(entries);
  DeviceArray<kernels::SampleResult> d_results(rows);
  kernels::SampleResult poison;
  poison.token = -7;
  poison.logprob = NAN;
  d_results.Fill(poison);
  CORVID_CUDA_OK(kernels::LaunchLogprobs(d_logits.get(), vocab, d_rows.get(), rows,
                                         d_results.get(), nullptr));
  CORVID_CUDA_OK(kernels::LaunchPenalties(d_logits.get(), vocab, d_rows.get(), d_entries.get(),
                                          static_cast<int>(entries.size()), nullptr));
  CORVID_CUDA_OK(kernels::LaunchSample(d_logits.get(), vocab, d_rows.get(), rows,
                                       d_entries.get(), d_results.get(), nullptr));
  gputest::SyncOrFail();
  const auto results = d_results.Download();
  int mismatches = 0;
  for (int r = 0; r < rows; ++r) {
    const SampledToken want =
        SampleToken(logits.data() + size_t(r) * vocab, vocab, params[r], prompt, outputs[r]);
    const kernels::SampleResult& got = results[r];
    if (got.token != want.token) {
      ++mismatches;
      ADD_FAILURE() << "row " << r << " (case " << r / seeds << ", seed " << params[r].seed
                    << "): GPU " << got.token << " CPU " << want.token;
      continue;
    }
    EXPECT_NEAR(got.logprob, want.logprob, 1e-3) << "row " << r;
    ASSERT_EQ(got.num_top, static_cast<int>(want.top_logprobs.size())) << "row " << r;
    for (int j = 0; j < got.num_top; ++j) {
      EXPECT_EQ(got.top_ids[j], want.top_logprobs[j].first) << "row " << r << " rank " << j;
      EXPECT_NEAR(got.top_logprobs[j], want.top_logprobs[j].second, 1e-3);
    }
  }
  EXPECT_EQ(mismatches, 0);
}

TEST(SamplingKernels, MatchesCpuSamplerSmallVocab) {
  CORVID_SKIP_WITHOUT_GPU();
  RunAndCompare(1000, 40, 5);
}

TEST(SamplingKernels, MatchesCpuSamplerLlama3Vocab) {
  CORVID_SKIP_WITHOUT_GPU();
  RunAndCompare(128256, 4, 6);
}

}  // namespace
}  // namespace corvid
