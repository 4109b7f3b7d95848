#include "engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "engine/cpu_simd.h"
#include "kernels/rng.h"

namespace corvid {
namespace {

// Per-thread buffers so that sampling a row allocates nothing once warm (the CPU backend samples
// rows of one step on several OpenMP threads).
struct Scratch {
  std::vector<float> logits;    // penalised copy
  std::vector<float> z;         // logits / temperature, NaN replaced by -inf
  std::vector<float> w;         // exp(z - z_max)
  std::vector<int32_t> ids;     // candidate order, sorted lazily
  std::vector<uint8_t> seen;    // repetition-penalty marks, all zero between calls
  std::vector<int32_t> counts;  // output counts, all zero between calls
  std::vector<int32_t> touched;
};

Scratch& ThreadScratch() {
  thread_local Scratch scratch;
  return scratch;
}

// Candidate ids ordered by z descending, ties by id ascending. Only a prefix is sorted, and it
// grows on demand: most draws stop after a few candidates, so sorting the whole vocabulary on
// every step would be wasted work.
class LazyOrder {
 public:
  LazyOrder(const float* z, int n, std::vector<int32_t>* ids) : z_(z), n_(n), ids_(*ids) {
    ids_.resize(n);
    std::iota(ids_.begin(), ids_.end(), 0);
  }
  bool Before(int32_t a, int32_t b) const { return z_[a] > z_[b] || (z_[a] == z_[b] && a < b); }
  // The candidate of rank r (0 = most likely).
  int32_t At(int r) {
    if (r >= sorted_) Extend(std::max(r + 1, 2 * sorted_ + 64));
    return ids_[r];
  }

 private:
  void Extend(int m) {
    m = std::min(m, n_);
    auto less = [this](int32_t a, int32_t b) { return Before(a, b); };
    auto first = ids_.begin() + sorted_;
    auto mid = ids_.begin() + m;
    if (mid != ids_.end()) std::nth_element(first, mid, ids_.end(), less);
    std::sort(first, mid, less);
    sorted_ = m;
  }

  const float* z_;
  int n_;
  std::vector<int32_t>& ids_;
  int sorted_ = 0;
};

// Step 4 without materialising the kept list: how many ranks survive top-k and top-p, and the
// min-p weight threshold. Kept = {rank < num_ranks} with weight >= min_weight.
struct KeptRule {
  int num_ranks = 0;
  float min_weight = 0.0f;
  double kept_weight = 0.0;  // sum of kept weights, in id order
};

// Sum of w over {rank < num_ranks, w >= min_weight} in id order; membership by comparing with
// the candidate of the last kept rank, so no sorting by id is needed.
double KeptWeight(LazyOrder& order, const float* w, int n, int num_ranks, float min_weight) {
  const bool all_ranks = num_ranks >= n;
  const int32_t last = all_ranks ? 0 : order.At(num_ranks - 1);
  double sum = 0.0;
  for (int32_t i = 0; i < n; ++i) {
    if (w[i] < min_weight) continue;
    if (!all_ranks && i != last && !order.Before(i, last)) continue;
    sum += w[i];
  }
  return sum;
}

KeptRule ComputeKeptRule(LazyOrder& order, const float* w, int n, const SamplingParams& p) {
  KeptRule rule;
  rule.num_ranks = (p.top_k > 0 && p.top_k < n) ? p.top_k : n;
  if (p.top_p < 1.0f) {
    const double target =
        static_cast<double>(p.top_p) * KeptWeight(order, w, n, rule.num_ranks, 0.0f);
    double cum = 0.0;
    int r = 0;
    while (r < rule.num_ranks - 1) {
      cum += w[order.At(r)];
      if (cum >= target) break;
      ++r;
    }
    rule.num_ranks = r + 1;
  }
  rule.min_weight = p.min_p > 0.0f ? p.min_p : 0.0f;
  rule.kept_weight = KeptWeight(order, w, n, rule.num_ranks, rule.min_weight);
  return rule;
}

// Fills s.z (scaled logits) and s.w (weights exp(z - z_max)).
void ScaleAndWeigh(const float* logits, int vocab, float temperature, Scratch& s) {
  s.z.resize(vocab);
  s.w.resize(vocab);
  float z_max = -std::numeric_limits<float>::infinity();
  for (int i = 0; i < vocab; ++i) {
    const float z =
        std::isnan(logits[i]) ? -std::numeric_limits<float>::infinity() : logits[i] / temperature;
    s.z[i] = z;
    z_max = std::max(z_max, z);
  }
  // w(max) is exactly 1, also when z overflows to +inf for a tiny temperature.
  for (int i = 0; i < vocab; ++i) s.w[i] = s.z[i] == z_max ? 1.0f : std::exp(s.z[i] - z_max);
}

int32_t DrawFiltered(const float* logits, int vocab, const SamplingParams& p, float u, Scratch& s) {
  ScaleAndWeigh(logits, vocab, p.temperature, s);
  LazyOrder order(s.z.data(), vocab, &s.ids);
  const KeptRule rule = ComputeKeptRule(order, s.w.data(), vocab, p);
  const double target = static_cast<double>(u) * rule.kept_weight;
  double cum = 0.0;
  int32_t chosen = order.At(0);
  for (int r = 0; r < rule.num_ranks; ++r) {
    const int32_t id = order.At(r);
    if (s.w[id] < rule.min_weight) continue;
    chosen = id;
    cum += s.w[id];
    if (cum > target) break;
  }
  return chosen;
}

bool HasPenalties(const SamplingParams& p) {
  return p.repetition_penalty != 1.0f || p.presence_penalty != 0.0f || p.frequency_penalty != 0.0f;
}

void FillTopLogprobs(const float* logits, int vocab, double lse, int n, Scratch& s,
                     SampledToken* out) {
  n = std::min(n, vocab);
  s.ids.resize(vocab);
  std::iota(s.ids.begin(), s.ids.end(), 0);
  auto before = [logits](int32_t a, int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  };
  std::partial_sort(s.ids.begin(), s.ids.begin() + n, s.ids.end(), before);
  out->top_logprobs.clear();
  for (int i = 0; i < n; ++i) {
    const int32_t id = s.ids[i];
    out->top_logprobs.emplace_back(id, static_cast<float>(logits[id] - lse));
  }
}

}  // namespace

void ApplyPenalties(float* logits, int vocab, const SamplingParams& p,
                    const std::vector<int32_t>& prompt, const std::vector<int32_t>& output) {
  Scratch& s = ThreadScratch();
  if (p.repetition_penalty != 1.0f) {
    s.seen.resize(std::max<size_t>(s.seen.size(), vocab), 0);
    s.touched.clear();
    for (const auto* seq : {&prompt, &output}) {
      for (int32_t t : *seq) {
        if (t < 0 || t >= vocab || s.seen[t]) continue;
        s.seen[t] = 1;
        s.touched.push_back(t);
        const float r = p.repetition_penalty;
        logits[t] = logits[t] > 0.0f ? logits[t] / r : logits[t] * r;
      }
    }
    for (int32_t t : s.touched) s.seen[t] = 0;
  }
  if (p.presence_penalty != 0.0f || p.frequency_penalty != 0.0f) {
    s.counts.resize(std::max<size_t>(s.counts.size(), vocab), 0);
    s.touched.clear();
    for (int32_t t : output) {
      if (t < 0 || t >= vocab) continue;
      if (s.counts[t]++ == 0) s.touched.push_back(t);
    }
    for (int32_t t : s.touched) {
      logits[t] -= p.frequency_penalty * static_cast<float>(s.counts[t]) + p.presence_penalty;
      s.counts[t] = 0;
    }
  }
}

int32_t ArgMax(const float* logits, int vocab) {
  // The maximum (exact in any order; VMax keeps its second operand when the first is NaN, so
  // NaN is skipped), then the first id holding it.
  simd::VecF mv = simd::VSet1(-std::numeric_limits<float>::infinity());
  const int full = vocab / simd::kLanes * simd::kLanes;
  for (int i = 0; i < full; i += simd::kLanes) mv = simd::VMax(simd::VLoad(logits + i), mv);
  float m = simd::VMaxLanes(mv);
  for (int i = full; i < vocab; ++i) m = logits[i] > m ? logits[i] : m;
  for (int32_t i = 0; i < vocab; ++i) {
    if (logits[i] == m) return i;
  }
  return 0;  // every logit is NaN
}

std::vector<Candidate> KeptCandidates(const float* logits, int vocab, const SamplingParams& p) {
  Scratch& s = ThreadScratch();
  ScaleAndWeigh(logits, vocab, p.temperature, s);
  LazyOrder order(s.z.data(), vocab, &s.ids);
  const KeptRule rule = ComputeKeptRule(order, s.w.data(), vocab, p);
  std::vector<Candidate> kept;
  for (int r = 0; r < rule.num_ranks; ++r) {
    const int32_t id = order.At(r);
    if (s.w[id] >= rule.min_weight) kept.push_back(Candidate{id, s.w[id]});
  }
  return kept;
}

int32_t DrawCandidate(const std::vector<Candidate>& kept, float u) {
  // The total is summed in id order, as the sampler does, so both give the same token.
  std::vector<Candidate> by_id = kept;
  std::sort(by_id.begin(), by_id.end(),
            [](const Candidate& a, const Candidate& b) { return a.id < b.id; });
  double total = 0.0;
  for (const Candidate& c : by_id) total += c.weight;
  const double target = static_cast<double>(u) * total;
  double cum = 0.0;
  for (const Candidate& c : kept) {
    cum += c.weight;
    if (cum > target) return c.id;
  }
  return kept.back().id;
}

float SamplerUniform(uint64_t seed, uint64_t num_generated) {
  return UniformFloat(seed, num_generated);
}

double LogSumExp(const float* logits, int vocab) {
  float m = -std::numeric_limits<float>::infinity();
  for (int i = 0; i < vocab; ++i) m = std::max(m, logits[i]);
  if (std::isinf(m)) return m;
  double sum = 0.0;
  for (int i = 0; i < vocab; ++i) {
    sum += std::exp(static_cast<double>(logits[i]) - static_cast<double>(m));
  }
  return static_cast<double>(m) + std::log(sum);
}

SampledToken SampleToken(const float* logits, int vocab, const SamplingParams& p,
                         const std::vector<int32_t>& prompt, const std::vector<int32_t>& output) {
  Scratch& s = ThreadScratch();
  const float* work = logits;
  if (HasPenalties(p)) {
    s.logits.assign(logits, logits + vocab);
    ApplyPenalties(s.logits.data(), vocab, p, prompt, output);
    work = s.logits.data();
  }
  SampledToken out;
  out.token = p.greedy() ? ArgMax(work, vocab)
                         : DrawFiltered(work, vocab, p, SamplerUniform(p.seed, output.size()), s);
  if (p.logprobs || p.top_logprobs > 0) {
    const double lse = LogSumExp(logits, vocab);
    out.logprob = static_cast<float>(logits[out.token] - lse);
    if (p.top_logprobs > 0) FillTopLogprobs(logits, vocab, lse, p.top_logprobs, s, &out);
  }
  return out;
}

}  // namespace corvid
