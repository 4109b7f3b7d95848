#include "engine/cpu_attention.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>

#include "engine/cpu_parallel.h"
#include "engine/cpu_simd.h"

namespace corvid {
namespace {

using simd::kLanes;
using simd::VecF;

inline VecF LoadN(const float* p, int n) {
  return n == kLanes ? simd::VLoad(p) : simd::VLoadPartial(p, n);
}
inline void StoreN(float* p, VecF v, int n) {
  if (n == kLanes) {
    simd::VStore(p, v);
  } else {
    simd::VStorePartial(p, v, n);
  }
}

// scores[p] = (q . k_p) * scale for p in [0, n).
void Scores(const PagedKvLayer& kv, const int32_t* table, int kvh, const float* q, int n,
            float scale, float* scores) {
  const int bs = kv.block_size, hd = kv.head_dim;
  for (int p0 = 0, b = 0; p0 < n; p0 += bs, ++b) {
    const float* kb = kv.KHead(table[b], kvh);
    const int slots = std::min(bs, n - p0);
    for (int c = 0; c < slots; c += kLanes) {
      const int m = std::min(kLanes, slots - c);
      VecF acc = simd::VZero();
      for (int d = 0; d < hd; ++d)
        acc = simd::VFma(simd::VSet1(q[d]), LoadN(kb + d * bs + c, m), acc);
      StoreN(scores + p0 + c, simd::VMul(acc, simd::VSet1(scale)), m);
    }
  }
}

// Replaces scores[0, n) by exp(score - max) and returns their sum (lane-wise partial sums in
// position order, then the fixed VSum tree).
float SoftmaxWeights(float* s, int n) {
  const int full = n / kLanes * kLanes;
  float mx = -std::numeric_limits<float>::infinity();
  if (full > 0) {
    VecF mv = simd::VLoad(s);
    for (int p = kLanes; p < full; p += kLanes) mv = simd::VMax(mv, simd::VLoad(s + p));
    mx = simd::VMaxLanes(mv);
  }
  for (int p = full; p < n; ++p) mx = std::max(mx, s[p]);
  const VecF mxv = simd::VSet1(mx);
  VecF sum = simd::VZero();
  for (int p = 0; p < full; p += kLanes) {
    const VecF e = simd::VExp(simd::VSub(simd::VLoad(s + p), mxv));
    simd::VStore(s + p, e);
    sum = simd::VAdd(sum, e);
  }
  if (full < n) {
    const int m = n - full;
    simd::VStorePartial(s + full, simd::VExp(simd::VSub(simd::VLoadPartial(s + full, m), mxv)), m);
    sum = simd::VAdd(sum, simd::VLoadPartial(s + full, m));  // zeros past n
  }
  return simd::VSum(sum);
}

// out[0, hd) = sum_p w[p] * v_p / total, NC vectors of head_dim held in registers.
template <int NC>
void WeightedValues(const PagedKvLayer& kv, const int32_t* table, int kvh, const float* w, int n,
                    float total, float* out) {
  const int bs = kv.block_size, hd = kv.head_dim;
  const int tail = hd - (NC - 1) * kLanes;
  VecF acc[NC];
  for (int c = 0; c < NC; ++c) acc[c] = simd::VZero();
  for (int p0 = 0, b = 0; p0 < n; p0 += bs, ++b) {
    const float* vb = kv.VHead(table[b], kvh);
    const int slots = std::min(bs, n - p0);
    for (int s = 0; s < slots; ++s) {
      const VecF ws = simd::VSet1(w[p0 + s]);
      const float* v = vb + s * hd;
#pragma GCC unroll 8
      for (int c = 0; c < NC; ++c) {
        acc[c] = simd::VFma(ws, LoadN(v + c * kLanes, c + 1 < NC ? kLanes : tail), acc[c]);
      }
    }
  }
  const VecF tv = simd::VSet1(total);
  for (int c = 0; c < NC; ++c) {
    StoreN(out + c * kLanes, simd::VDiv(acc[c], tv), c + 1 < NC ? kLanes : tail);
  }
}

// Heads wider than 8 vectors accumulate in memory (same per-element arithmetic).
void WeightedValuesWide(const PagedKvLayer& kv, const int32_t* table, int kvh, const float* w,
                        int n, float total, float* out) {
  const int bs = kv.block_size, hd = kv.head_dim;
  std::memset(out, 0, sizeof(float) * hd);
  for (int p0 = 0, b = 0; p0 < n; p0 += bs, ++b) {
    const float* vb = kv.VHead(table[b], kvh);
    for (int s = 0; s < std::min(bs, n - p0); ++s) simd::Axpy(w[p0 + s], vb + s * hd, out, hd);
  }
  for (int d = 0; d < hd; ++d) out[d] /= total;
}

using ValuesFn = void (*)(const PagedKvLayer&, const int32_t*, int, const float*, int, float,
                          float*);
constexpr ValuesFn kValues[] = {WeightedValues<1>, WeightedValues<2>, WeightedValues<3>,
                                WeightedValues<4>, WeightedValues<5>, WeightedValues<6>,
                                WeightedValues<7>, WeightedValues<8>};

}  // namespace

void WriteKvRow(const PagedKvLayer& kv, const TokenKv& token, const float* k, const float* v) {
  const int bs = kv.block_size, hd = kv.head_dim;
  const int32_t block = token.block_table[token.position / bs];
  const int slot = token.position % bs;
  for (int h = 0; h < kv.num_kv_heads; ++h) {
    float* kd = kv.KHead(block, h) + slot;
    for (int d = 0; d < hd; ++d) kd[d * bs] = k[h * hd + d];
    std::memcpy(kv.VHead(block, h) + slot * hd, v + h * hd, sizeof(float) * hd);
  }
}

void WriteKv(const PagedKvLayer& kv, const TokenKv* tokens, int num_tokens, const float* k,
             const float* v, int row_stride) {
  ParallelForStatic(num_tokens, [&](int t) {
    WriteKvRow(kv, tokens[t], k + static_cast<int64_t>(t) * row_stride,
               v + static_cast<int64_t>(t) * row_stride);
  });
}

void Attention(const AttentionArgs& a) {
  const PagedKvLayer& kv = *a.kv;
  const int group = a.num_heads / kv.num_kv_heads;
  const int hd = kv.head_dim;
  const int chunks = (hd + kLanes - 1) / kLanes;
  const ValuesFn values = chunks <= 8 ? kValues[chunks - 1] : WeightedValuesWide;
  ParallelFor(a.num_tokens * a.num_heads, [&](int item) {
    thread_local std::vector<float> scores;
    const int t = item / a.num_heads;
    const int h = item % a.num_heads;
    const TokenKv& tok = a.tokens[t];
    const int n = tok.position + 1;
    if (scores.size() < static_cast<size_t>(n)) scores.resize(n);
    const float* q = a.q + static_cast<int64_t>(t) * a.q_stride + h * hd;
    Scores(kv, tok.block_table, h / group, q, n, a.scale, scores.data());
    const float total = SoftmaxWeights(scores.data(), n);
    values(kv, tok.block_table, h / group, scores.data(), n, total,
           a.out + static_cast<int64_t>(t) * a.out_stride + h * hd);
  });
}

}  // namespace corvid
