#include "engine/cpu_matmul.h"

#include <algorithm>
#include <utility>

#include "engine/cpu_parallel.h"

namespace corvid {
namespace {

using simd::kLanes;
using simd::VecF;

// Most tokens one tile handles: accumulators (2 per token) + 2 weight vectors + 1 broadcast
// must fit the register file (32 vector registers with AVX-512, 16 with AVX2).
constexpr int kMaxTileTokens = kLanes == 16 ? 12 : 6;

// NP panels x TT tokens: 2 * NP * TT accumulators. x[t][k] is broadcast and multiplied into the
// panel's k-th row of weights, so each lane accumulates one output over k in order.
template <int NP, int TT>
void Tile(const MatMulArgs& a, int panel0, int t0) {
  constexpr int V = 2 * NP;
  const int64_t panel_floats = static_cast<int64_t>(a.w.k) * kPanelRows;
  const float* w = a.w.data + panel0 * panel_floats;
  const float* x = a.x + static_cast<int64_t>(t0) * a.ldx;
  VecF acc[V][TT];
#pragma GCC unroll 4
  for (int v = 0; v < V; ++v) {
#pragma GCC unroll 12
    for (int t = 0; t < TT; ++t) acc[v][t] = simd::VZero();
  }
  for (int k = 0; k < a.w.k; ++k) {
    VecF wv[V];
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) {
      wv[v] = simd::VLoad(w + (v / 2) * panel_floats + k * kPanelRows + (v % 2) * kLanes);
    }
#pragma GCC unroll 12
    for (int t = 0; t < TT; ++t) {
      const VecF xb = simd::VSet1(x[static_cast<int64_t>(t) * a.ldx + k]);
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) acc[v][t] = simd::VFma(xb, wv[v], acc[v][t]);
    }
  }
  for (int v = 0; v < V; ++v) {
    const int n = panel0 * kPanelRows + v * kLanes;
    const int valid = std::min(kLanes, a.w.rows - n);
    if (valid <= 0) break;
    const VecF bias = a.bias == nullptr ? simd::VZero()
                      : valid == kLanes ? simd::VLoad(a.bias + n)
                                        : simd::VLoadPartial(a.bias + n, valid);
    for (int t = 0; t < TT; ++t) {
      float* y = a.y + static_cast<int64_t>(t0 + t) * a.ldy + n;
      VecF r = a.bias == nullptr ? acc[v][t] : simd::VAdd(acc[v][t], bias);
      if (valid == kLanes) {
        if (a.accumulate) r = simd::VAdd(simd::VLoad(y), r);
        simd::VStore(y, r);
      } else {
        if (a.accumulate) r = simd::VAdd(simd::VLoadPartial(y, valid), r);
        simd::VStorePartial(y, r, valid);
      }
    }
  }
}

template <int NP, int... Is>
void RunTokens(const MatMulArgs& a, int panel0, std::integer_sequence<int, Is...>) {
  static constexpr void (*tiles[])(const MatMulArgs&, int, int) = {Tile<NP, Is + 1>...};
  int t = 0;
  for (; t + kMaxTileTokens <= a.num_tokens; t += kMaxTileTokens) {
    tiles[kMaxTileTokens - 1](a, panel0, t);
  }
  if (t < a.num_tokens) tiles[a.num_tokens - t - 1](a, panel0, t);
}

void PanelRange(const MatMulArgs& a, int p_begin, int p_end) {
  using Seq = std::make_integer_sequence<int, kMaxTileTokens>;
  int p = p_begin;
  // One token alone gives only 2 accumulator chains per panel: take two panels at a time so
  // that enough FMAs are in flight to keep the loads streaming.
  if (a.num_tokens == 1) {
    for (; p + 2 <= p_end; p += 2) RunTokens<2>(a, p, std::make_integer_sequence<int, 1>());
  }
  for (; p < p_end; ++p) RunTokens<1>(a, p, Seq());
}

}  // namespace

int64_t PackedFloats(int rows, int k) {
  return static_cast<int64_t>((rows + kPanelRows - 1) / kPanelRows) * kPanelRows * k;
}

void PackRow(float* packed, int k, int r, const float* row) {
  float* dst = packed + static_cast<int64_t>(r / kPanelRows) * k * kPanelRows + r % kPanelRows;
  for (int c = 0; c < k; ++c) dst[static_cast<int64_t>(c) * kPanelRows] = row[c];
}

void MatMul(const MatMulArgs& a) {
  const int panels = (a.w.rows + kPanelRows - 1) / kPanelRows;
  // Several chunks per thread, so that a thread slowed by another process on a shared machine
  // does not hold the others back; even panel counts keep the two-panel decode tiles whole.
  constexpr int kTargetChunks = 64;
  int chunk = std::max(1, (panels + kTargetChunks - 1) / kTargetChunks);
  chunk += chunk % 2;
  const int num_chunks = (panels + chunk - 1) / chunk;
  ParallelFor(num_chunks,
              [&](int c) { PanelRange(a, c * chunk, std::min(panels, (c + 1) * chunk)); });
}

}  // namespace corvid
