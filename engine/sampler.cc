#include "engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <cstring>
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
// every step would be wasted work. Ids with z >= z_cut (the head) precede all others in the
// order, so a prefix that fits in the head is selected among the head alone; the rest of the
// ids are gathered only if a walk goes past the head.
class LazyOrder {
 public:
  LazyOrder(const float* z, int n, float z_cut, std::vector<int32_t>* ids)
      : z_(z), n_(n), z_cut_(z_cut), ids_(*ids) {
    ids_.resize(n);
    // A vector compare per chunk: most chunks hold no head id and are skipped whole.
    const simd::VecF cut = simd::VSet1(z_cut);
    const int full = n / simd::kLanes * simd::kLanes;
    int count = 0;
    for (int c = 0; c < full; c += simd::kLanes) {
      for (unsigned m = simd::VMaskGE(simd::VLoad(z + c), cut); m != 0; m &= m - 1) {
        ids_[count++] = c + __builtin_ctz(m);
      }
    }
    for (int32_t i = full; i < n; ++i) {
      if (z[i] >= z_cut) ids_[count++] = i;
    }
    head_end_ = count;
  }
  bool Before(int32_t a, int32_t b) const { return z_[a] > z_[b] || (z_[a] == z_[b] && a < b); }
  // The candidate of rank r (0 = most likely).
  int32_t At(int r) {
    if (r >= sorted_) {
      int m = std::max(r + 1, 2 * sorted_ + 64);
      if (r < head_end_) m = std::min(m, head_end_);  // stay inside the head while possible
      Extend(m);
    }
    return ids_[r];
  }

 private:
  void Extend(int m) {
    m = std::min(m, n_);
    if (m > head_end_ && head_end_ < n_) {  // past the head: bring in every other id
      int count = head_end_;
      for (int32_t i = 0; i < n_; ++i) {
        ids_[count] = i;
        count += z_[i] < z_cut_ ? 1 : 0;
      }
      head_end_ = n_;
    }
    auto less = [this](int32_t a, int32_t b) { return Before(a, b); };
    auto first = ids_.begin() + sorted_;
    auto mid = ids_.begin() + m;
    if (m < head_end_) std::nth_element(first, mid, ids_.begin() + head_end_, less);
    std::sort(first, mid, less);
    sorted_ = m;
  }

  const float* z_;
  int n_;
  float z_cut_;
  std::vector<int32_t>& ids_;
  int head_end_ = 0;
  int sorted_ = 0;
};

// LazyOrder's head: z within ln(2^12) of z_max, i.e. weight above 2^-12 of the best candidate's.
// Peaked distributions keep a few candidates there; flat ones walk past it (and pay for it).
constexpr float kHeadLogWeight = -8.31776617f;

// A weight as an integer mass: w * 2^40 rounded to nearest even. Integer sums are exact and
// order-free, so a sum over a set does not depend on how the set was found (here by a lazy
// sort, on the GPU by radix selection over thousands of threads).
inline uint64_t Mass(float w) {
  return static_cast<uint64_t>(std::nearbyint(w * 1099511627776.0f));  // 2^40
}

// Sum of Mass(w) over the first `num_ranks` candidates: membership by comparing with the
// candidate of the last kept rank, so nothing is sorted beyond it.
uint64_t PrefixMass(LazyOrder& order, const float* w, int n, int num_ranks) {
  uint64_t sum = 0;
  if (num_ranks >= n) {
    for (int32_t i = 0; i < n; ++i) sum += Mass(w[i]);
    return sum;
  }
  const int32_t last = order.At(num_ranks - 1);
  for (int32_t i = 0; i < n; ++i) {
    if (i == last || order.Before(i, last)) sum += Mass(w[i]);
  }
  return sum;
}

// min-p: the kept prefix ends at the last candidate (in order) whose weight is >= min_p.
int MinPRanks(const LazyOrder& order, const float* w, int n, float min_p) {
  int32_t last = -1;
  for (int32_t i = 0; i < n; ++i) {
    if (w[i] >= min_p && (last < 0 || order.Before(last, i))) last = i;
  }
  if (last < 0) return 1;
  int rank = 0;
  for (int32_t i = 0; i < n; ++i) rank += order.Before(i, last) ? 1 : 0;
  return rank + 1;
}

// Step 4 without materialising the kept list: the kept candidates are the first `num_ranks`
// of the order, of total integer mass `mass`.
struct KeptPrefix {
  int num_ranks = 0;
  uint64_t mass = 0;
};

KeptPrefix ComputeKept(LazyOrder& order, const float* w, int n, const SamplingParams& p) {
  KeptPrefix kept;
  kept.num_ranks = (p.top_k > 0 && p.top_k < n) ? p.top_k : n;
  if (p.top_p < 1.0f) {
    const uint64_t target =
        static_cast<uint64_t>(static_cast<double>(p.top_p) *
                              static_cast<double>(PrefixMass(order, w, n, kept.num_ranks)));
    uint64_t cum = 0;
    int r = 0;
    for (; r < kept.num_ranks - 1; ++r) {
      cum += Mass(w[order.At(r)]);
      if (cum >= target) break;
    }
    kept.num_ranks = r + 1;
  }
  if (p.min_p > 0.0f) kept.num_ranks = std::min(kept.num_ranks, MinPRanks(order, w, n, p.min_p));
  kept.mass = PrefixMass(order, w, n, kept.num_ranks);
  return kept;
}

// Step 5 over a kept prefix: the first candidate whose running mass exceeds u * mass.
template <typename CandidateAt>
int32_t Walk(CandidateAt at, int num_ranks, uint64_t mass, float u) {
  const uint64_t target = static_cast<uint64_t>(static_cast<double>(u) * static_cast<double>(mass));
  uint64_t cum = 0;
  for (int r = 0; r < num_ranks; ++r) {
    cum += Mass(at(r).second);
    if (cum > target) return at(r).first;
  }
  return at(num_ranks - 1).first;
}

// Fills s.z (scaled logits, NaN -> -inf) and s.w (weights exp(z - z_max), exactly 1 at the
// max); returns z_max.
float ScaleAndWeigh(const float* logits, int vocab, float temperature, Scratch& s) {
  using simd::kLanes;
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  s.z.resize(vocab);
  s.w.resize(vocab);
  const int full = vocab / kLanes * kLanes;
  const simd::VecF t = simd::VSet1(temperature);
  simd::VecF mv = simd::VSet1(kNegInf);
  for (int i = 0; i < full; i += kLanes) {
    const simd::VecF z = simd::VReplaceNan(simd::VDiv(simd::VLoad(logits + i), t), kNegInf);
    simd::VStore(s.z.data() + i, z);
    mv = simd::VMax(mv, z);
  }
  float z_max = simd::VMaxLanes(mv);
  for (int i = full; i < vocab; ++i) {
    s.z[i] = std::isnan(logits[i]) ? kNegInf : logits[i] / temperature;
    z_max = std::max(z_max, s.z[i]);
  }
  if (!std::isfinite(z_max)) {  // +inf from a tiny temperature, or every logit -inf
    for (int i = 0; i < vocab; ++i) s.w[i] = s.z[i] == z_max ? 1.0f : 0.0f;
    return z_max;
  }
  const simd::VecF zm = simd::VSet1(z_max);
  for (int i = 0; i < full; i += kLanes) {
    simd::VStore(s.w.data() + i, simd::VExp(simd::VSub(simd::VLoad(s.z.data() + i), zm)));
  }
  if (full < vocab) {  // the same vector exp for the tail, so w depends only on z
    const int m = vocab - full;
    simd::VStorePartial(s.w.data() + full,
                        simd::VExp(simd::VSub(simd::VLoadPartial(s.z.data() + full, m), zm)), m);
  }
  return z_max;
}

int32_t DrawFiltered(const float* logits, int vocab, const SamplingParams& p, float u, Scratch& s) {
  const float z_max = ScaleAndWeigh(logits, vocab, p.temperature, s);
  LazyOrder order(s.z.data(), vocab, z_max + kHeadLogWeight, &s.ids);
  const KeptPrefix kept = ComputeKept(order, s.w.data(), vocab, p);
  const float* w = s.w.data();
  return Walk(
      [&](int r) {
        const int32_t id = order.At(r);
        return std::make_pair(id, w[id]);
      },
      kept.num_ranks, kept.mass, u);
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
  const simd::VecF mvec = simd::VSet1(m);
  for (int i = 0; i < full; i += simd::kLanes) {
    const unsigned eq = simd::VMaskEQ(simd::VLoad(logits + i), mvec);
    if (eq != 0) return i + __builtin_ctz(eq);
  }
  for (int32_t i = full; i < vocab; ++i) {
    if (logits[i] == m) return i;
  }
  return 0;  // every logit is NaN
}

std::vector<Candidate> KeptCandidates(const float* logits, int vocab, const SamplingParams& p) {
  Scratch& s = ThreadScratch();
  const float z_max = ScaleAndWeigh(logits, vocab, p.temperature, s);
  LazyOrder order(s.z.data(), vocab, z_max + kHeadLogWeight, &s.ids);
  const KeptPrefix kept = ComputeKept(order, s.w.data(), vocab, p);
  std::vector<Candidate> out;
  for (int r = 0; r < kept.num_ranks; ++r) {
    const int32_t id = order.At(r);
    out.push_back(Candidate{id, s.w[id]});
  }
  return out;
}

int32_t DrawCandidate(const std::vector<Candidate>& kept, float u) {
  uint64_t mass = 0;
  for (const Candidate& c : kept) mass += Mass(c.weight);
  return Walk([&](int r) { return std::make_pair(kept[r].id, kept[r].weight); },
              static_cast<int>(kept.size()), mass, u);
}

void ReserveSamplerScratch(int vocab) {
  Scratch& s = ThreadScratch();
  const size_t n = static_cast<size_t>(vocab);
  s.logits.reserve(n);
  s.z.reserve(n);
  s.w.reserve(n);
  s.ids.reserve(n);
  s.touched.reserve(n);
  if (s.seen.size() < n) s.seen.resize(n, 0);
  if (s.counts.size() < n) s.counts.resize(n, 0);
}

float SamplerUniform(uint64_t seed, uint64_t num_generated) {
  return UniformFloat(seed, num_generated);
}

double LogSumExp(const float* logits, int vocab) {
  using simd::kLanes;
  const int full = vocab / kLanes * kLanes;
  simd::VecF mv = simd::VSet1(-std::numeric_limits<float>::infinity());
  for (int i = 0; i < full; i += kLanes) mv = simd::VMax(simd::VLoad(logits + i), mv);
  float m = simd::VMaxLanes(mv);
  for (int i = full; i < vocab; ++i) m = std::max(m, logits[i]);
  if (std::isinf(m)) return m;
  // exp(x - m) <= 1 by the vector exp; each vector's sum (float, fixed tree) goes into a double.
  const simd::VecF mm = simd::VSet1(m);
  double sum = 0.0;
  for (int i = 0; i < full; i += kLanes) {
    sum += simd::VSum(simd::VExp(simd::VSub(simd::VLoad(logits + i), mm)));
  }
  if (full < vocab) {
    float tail[kLanes];
    simd::VStore(tail, simd::VExp(simd::VSub(simd::VLoadPartial(logits + full, vocab - full), mm)));
    for (int i = 0; i < vocab - full; ++i) sum += tail[i];
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
