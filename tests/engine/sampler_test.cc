#include "engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <set>
#include <vector>

#include "gtest/gtest.h"

namespace corvid {
namespace {

std::vector<float> RandomLogits(int n, uint32_t seed, float scale = 3.0f) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

// Logits whose softmax is exactly proportional to `probs`.
std::vector<float> LogitsFromProbs(const std::vector<double>& probs) {
  std::vector<float> v;
  for (double p : probs) v.push_back(static_cast<float>(std::log(p)));
  return v;
}

std::vector<int32_t> KeptIds(const std::vector<float>& logits, const SamplingParams& p) {
  std::vector<int32_t> ids;
  for (const Candidate& c : KeptCandidates(logits.data(), logits.size(), p)) ids.push_back(c.id);
  return ids;
}

// Draws with many seeds: every token must be in `kept`, and every member must be hit.
void ExpectDrawsCover(const std::vector<float>& logits, SamplingParams p,
                      const std::vector<int32_t>& kept) {
  const std::set<int32_t> allowed(kept.begin(), kept.end());
  std::set<int32_t> hit;
  const std::vector<int32_t> prompt = {1};
  const std::vector<int32_t> output;
  for (uint64_t seed = 0; seed < 4000; ++seed) {
    p.seed = seed;
    const int32_t t = SampleToken(logits.data(), logits.size(), p, prompt, output).token;
    ASSERT_TRUE(allowed.count(t)) << "token " << t << " outside the kept set, seed " << seed;
    hit.insert(t);
  }
  EXPECT_EQ(hit, allowed);
}

TEST(Sampler, SameSeedSameTokensDifferentSeedsDiffer) {
  const std::vector<float> logits = RandomLogits(1000, 1, 1.0f);
  SamplingParams p;
  p.temperature = 0.9f;
  p.top_p = 0.95f;
  auto run = [&](uint64_t seed) {
    p.seed = seed;
    std::vector<int32_t> prompt = {5, 6}, output;
    for (int i = 0; i < 64; ++i) {
      output.push_back(SampleToken(logits.data(), logits.size(), p, prompt, output).token);
    }
    return output;
  };
  EXPECT_EQ(run(7), run(7));
  EXPECT_NE(run(7), run(8));
}

TEST(Sampler, DrawUsesSeedAndGeneratedCountAsCounter) {
  const std::vector<float> logits = RandomLogits(300, 2, 1.0f);
  SamplingParams p;
  p.temperature = 1.3f;
  p.top_k = 50;
  p.seed = 1234;
  std::vector<int32_t> prompt = {3}, output;
  const std::vector<Candidate> kept = KeptCandidates(logits.data(), logits.size(), p);
  for (int n = 0; n < 200; ++n) {
    const int32_t expected = DrawCandidate(kept, SamplerUniform(p.seed, n));
    EXPECT_EQ(SampleToken(logits.data(), logits.size(), p, prompt, output).token, expected);
    output.push_back(0);  // only the count matters without penalties
  }
}

TEST(Sampler, TopKKeepsExactlyTheKBestTiesById) {
  const std::vector<float> logits = {1.0f, 5.0f, 3.0f, 5.0f, 2.0f, 0.0f, 4.0f, -1.0f};
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 3;
  EXPECT_EQ(KeptIds(logits, p), (std::vector<int32_t>{1, 3, 6}));
  ExpectDrawsCover(logits, p, {1, 3, 6});
  p.top_k = 2;
  EXPECT_EQ(KeptIds(logits, p), (std::vector<int32_t>{1, 3}));
  p.top_k = 100;  // larger than the vocabulary: everything, in descending order
  EXPECT_EQ(KeptIds(logits, p), (std::vector<int32_t>{1, 3, 6, 2, 4, 0, 5, 7}));
}

TEST(Sampler, TopPKeepsSmallestPrefixReachingP) {
  const std::vector<float> logits = LogitsFromProbs({0.1, 0.4, 0.2, 0.3});
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_p = 0.65f;  // 0.4 < 0.65 <= 0.4 + 0.3
  EXPECT_EQ(KeptIds(logits, p), (std::vector<int32_t>{1, 3}));
  ExpectDrawsCover(logits, p, {1, 3});
  p.top_p = 0.75f;
  EXPECT_EQ(KeptIds(logits, p), (std::vector<int32_t>{1, 3, 2}));
  p.top_p = 0.3f;  // the first candidate alone reaches it
  EXPECT_EQ(KeptIds(logits, p), (std::vector<int32_t>{1}));
  // After top-k = 2 the mass is relative to {1, 3}: 0.4 / 0.7 = 0.57 < 0.6.
  p.top_k = 2;
  p.top_p = 0.6f;
  EXPECT_EQ(KeptIds(logits, p), (std::vector<int32_t>{1, 3}));
  p.top_p = 0.5f;
  EXPECT_EQ(KeptIds(logits, p), (std::vector<int32_t>{1}));
}

TEST(Sampler, MinPKeepsTokensAboveFractionOfMax) {
  const std::vector<float> logits = LogitsFromProbs({0.15, 0.5, 0.1, 0.25});
  SamplingParams p;
  p.temperature = 1.0f;
  p.min_p = 0.25f;  // threshold 0.125
  EXPECT_EQ(KeptIds(logits, p), (std::vector<int32_t>{1, 3, 0}));
  ExpectDrawsCover(logits, p, {1, 3, 0});
  p.min_p = 0.4f;  // threshold 0.2
  EXPECT_EQ(KeptIds(logits, p), (std::vector<int32_t>{1, 3}));
  p.min_p = 1.0f;
  EXPECT_EQ(KeptIds(logits, p), (std::vector<int32_t>{1}));
}

TEST(Sampler, TemperatureScalesWeights) {
  const std::vector<float> logits = RandomLogits(64, 3);
  SamplingParams p;
  p.temperature = 0.7f;
  const std::vector<Candidate> kept = KeptCandidates(logits.data(), logits.size(), p);
  ASSERT_EQ(kept.size(), logits.size());
  const double max_logit = *std::max_element(logits.begin(), logits.end());
  for (size_t r = 0; r < kept.size(); ++r) {
    const double expected = std::exp((logits[kept[r].id] - max_logit) / 0.7);
    EXPECT_NEAR(kept[r].weight, expected, 1e-5 * expected + 1e-30);
    if (r > 0) {
      EXPECT_GE(logits[kept[r - 1].id], logits[kept[r].id]);
    }
  }
}

TEST(Sampler, DrawFrequenciesFollowTheDistribution) {
  const std::vector<double> probs = {0.2, 0.5, 0.3};
  const std::vector<float> logits = LogitsFromProbs(probs);
  SamplingParams p;
  p.temperature = 1.0f;
  std::vector<int> counts(3, 0);
  const int n = 20000;
  const std::vector<int32_t> prompt = {0};
  std::vector<int32_t> output;
  for (int i = 0; i < n; ++i) {
    p.seed = 1000 + i;
    ++counts[SampleToken(logits.data(), 3, p, prompt, output).token];
  }
  for (int i = 0; i < 3; ++i) {
    const double sigma = std::sqrt(probs[i] * (1 - probs[i]) / n);
    EXPECT_NEAR(counts[i] / static_cast<double>(n), probs[i], 5 * sigma) << "token " << i;
  }
}

TEST(Sampler, GreedyTakesLowestIdOnTies) {
  std::vector<float> logits = RandomLogits(100, 4);
  logits[70] = 50.0f;
  logits[30] = 50.0f;
  SamplingParams p;
  p.temperature = 0.0f;
  for (uint64_t seed = 0; seed < 5; ++seed) {
    p.seed = seed;
    EXPECT_EQ(SampleToken(logits.data(), 100, p, {}, {}).token, 30);
  }
  EXPECT_EQ(ArgMax(logits.data(), 100), 30);
}

TEST(Sampler, ArgMaxSkipsNanAndScansTheTail) {
  for (int vocab : {1, 5, 16, 37, 1000}) {
    std::vector<float> logits = RandomLogits(vocab, vocab);
    const int best = vocab - 1;  // in the scalar tail when vocab is not a multiple of the lanes
    logits[best] = 100.0f;
    if (vocab > 2) logits[1] = NAN;
    EXPECT_EQ(ArgMax(logits.data(), vocab), best) << vocab;
  }
  const std::vector<float> ninf(20, -INFINITY);
  EXPECT_EQ(ArgMax(ninf.data(), 20), 0);
  std::vector<float> ties(40, 1.0f);
  ties[33] = ties[17] = 2.0f;
  EXPECT_EQ(ArgMax(ties.data(), 40), 17);
}

// The penalties recomputed from their definitions, independently of the sampler's bookkeeping.
std::vector<float> ReferencePenalties(std::vector<float> logits, const SamplingParams& p,
                                      const std::vector<int32_t>& prompt,
                                      const std::vector<int32_t>& output) {
  std::set<int32_t> seen(prompt.begin(), prompt.end());
  seen.insert(output.begin(), output.end());
  for (int32_t t : seen) {
    const double r = p.repetition_penalty;
    logits[t] = logits[t] > 0 ? logits[t] / r : logits[t] * r;
  }
  std::map<int32_t, int> counts;
  for (int32_t t : output) ++counts[t];
  for (const auto& [t, c] : counts) {
    logits[t] = logits[t] - p.frequency_penalty * c - p.presence_penalty;
  }
  return logits;
}

TEST(Sampler, PenaltiesMatchTheirDefinitions) {
  const std::vector<float> logits = RandomLogits(50, 5);
  SamplingParams p;
  p.repetition_penalty = 1.3f;
  p.presence_penalty = 0.5f;
  p.frequency_penalty = 0.25f;
  const std::vector<int32_t> prompt = {1, 2, 2, 7, 40};
  const std::vector<int32_t> output = {7, 7, 7, 9, 2, 49};
  std::vector<float> got = logits;
  ApplyPenalties(got.data(), got.size(), p, prompt, output);
  const std::vector<float> want = ReferencePenalties(logits, p, prompt, output);
  for (size_t i = 0; i < logits.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5) << i;
  // Untouched tokens keep their exact value.
  EXPECT_EQ(got[3], logits[3]);
  // A second call starts from clean bookkeeping (no counts leak between calls).
  std::vector<float> again = logits;
  ApplyPenalties(again.data(), again.size(), p, prompt, output);
  EXPECT_EQ(again, got);
}

TEST(Sampler, PenaltiesChangeTheGreedyChoice) {
  std::vector<float> logits(10, 0.0f);
  logits[4] = 2.0f;
  logits[6] = 1.5f;
  SamplingParams p;
  p.temperature = 0.0f;
  EXPECT_EQ(SampleToken(logits.data(), 10, p, {}, {4}).token, 4);
  p.repetition_penalty = 1.5f;  // 2.0 / 1.5 = 1.33 < 1.5
  EXPECT_EQ(SampleToken(logits.data(), 10, p, {}, {4}).token, 6);
  p.repetition_penalty = 1.0f;
  p.frequency_penalty = 0.2f;  // 2.0 - 3 * 0.2 = 1.4 < 1.5
  EXPECT_EQ(SampleToken(logits.data(), 10, p, {}, {4, 4, 4}).token, 6);
  EXPECT_EQ(SampleToken(logits.data(), 10, p, {}, {4, 4}).token, 4);  // 1.6 > 1.5
}

TEST(Sampler, LogprobsAreDoubleLogSoftmaxOfRawLogits) {
  std::vector<float> logits = RandomLogits(512, 6);
  logits[100] = logits[200] = 20.0f;  // a tie inside the top list
  SamplingParams p;
  p.temperature = 0.8f;
  p.repetition_penalty = 1.2f;  // penalties must not affect the reported logprobs
  p.logprobs = true;
  p.top_logprobs = 5;
  p.seed = 99;
  const SampledToken t = SampleToken(logits.data(), 512, p, {100, 3}, {});
  double m = -1e30, sum = 0.0;
  for (float x : logits) m = std::max(m, static_cast<double>(x));
  for (float x : logits) sum += std::exp(static_cast<double>(x) - m);
  const double lse = m + std::log(sum);
  EXPECT_NEAR(t.logprob, logits[t.token] - lse, 1e-5);
  std::vector<int32_t> order(512);
  for (int i = 0; i < 512; ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
  ASSERT_EQ(t.top_logprobs.size(), 5u);
  EXPECT_EQ(t.top_logprobs[0].first, 100);
  EXPECT_EQ(t.top_logprobs[1].first, 200);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(t.top_logprobs[i].first, order[i]);
    EXPECT_NEAR(t.top_logprobs[i].second, logits[order[i]] - lse, 1e-5);
  }
}

TEST(SamplingParamsValidate, AcceptsDefaultsAndNamesBadFields) {
  EXPECT_TRUE(SamplingParams{}.Validate().ok());
  struct Case {
    const char* field;
    void (*mutate)(SamplingParams*);
  };
  const Case cases[] = {
      {"temperature", [](SamplingParams* p) { p->temperature = -0.1f; }},
      {"temperature", [](SamplingParams* p) { p->temperature = INFINITY; }},
      {"temperature", [](SamplingParams* p) { p->temperature = NAN; }},
      {"top_k", [](SamplingParams* p) { p->top_k = -1; }},
      {"top_p", [](SamplingParams* p) { p->top_p = 0.0f; }},
      {"top_p", [](SamplingParams* p) { p->top_p = 1.01f; }},
      {"min_p", [](SamplingParams* p) { p->min_p = -0.01f; }},
      {"min_p", [](SamplingParams* p) { p->min_p = 1.5f; }},
      {"repetition_penalty", [](SamplingParams* p) { p->repetition_penalty = 0.0f; }},
      {"presence_penalty", [](SamplingParams* p) { p->presence_penalty = 2.5f; }},
      {"frequency_penalty", [](SamplingParams* p) { p->frequency_penalty = -2.5f; }},
      {"top_logprobs", [](SamplingParams* p) { p->top_logprobs = 21; }},
      {"top_logprobs", [](SamplingParams* p) { p->top_logprobs = -1; }},
  };
  for (const Case& c : cases) {
    SamplingParams p;
    c.mutate(&p);
    const absl::Status s = p.Validate();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.field;
    EXPECT_NE(s.message().find(c.field), std::string::npos) << s.message();
  }
  SamplingParams edge;
  edge.temperature = 0.0f;
  edge.top_p = 1.0f;
  edge.min_p = 1.0f;
  edge.presence_penalty = -2.0f;
  edge.frequency_penalty = 2.0f;
  edge.top_logprobs = 20;
  EXPECT_TRUE(edge.Validate().ok());
}

}  // namespace
}  // namespace corvid
