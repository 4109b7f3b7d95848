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
// Software prefetch distance, in panel rows (k steps) ahead of the loads: the hardware
// prefetcher alone leaves a few percent of bandwidth unused when the FMAs keep the core busy.
constexpr int kPrefetchRows = 16;

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
      const float* src = w + (v / 2) * panel_floats + k * kPanelRows + (v % 2) * kLanes;
      __builtin_prefetch(src + kPrefetchRows * kPanelRows);
      wv[v] = simd::VLoad(src);
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

using TileFn = void (*)(const MatMulArgs&, int, int);

// All tokens against panels [panel0, panel0 + NP), in token tiles of at most kMax, sized evenly
// (8 tokens with kMax 6 run as 4 + 4, not 6 + 2).
template <int NP, int kMax, int... Is>
void RunTokens(const MatMulArgs& a, int panel0, std::integer_sequence<int, Is...>) {
  static constexpr TileFn kTiles[] = {Tile<NP, Is + 1>...};
  const int tiles = (a.num_tokens + kMax - 1) / kMax;
  for (int i = 0, t = 0; i < tiles; ++i) {
    const int tt = (a.num_tokens - t) / (tiles - i);
    kTiles[tt - 1](a, panel0, t);
    t += tt;
  }
}

// Tokens per tile when a tile covers two panels (4 accumulators per token).
constexpr int kMaxTokensTwoPanels = kLanes == 16 ? 6 : 2;

void PanelRange(const MatMulArgs& a, int p_begin, int p_end) {
  int p = p_begin;
  // Few tokens give few accumulator chains per panel, and one panel is one memory stream: when
  // all tokens fit one two-panel tile, take two panels at a time so that more FMAs and loads
  // are in flight. Otherwise one panel and up to kMaxTileTokens tokens per pass, so a panel is
  // read from memory once and reused from L1 (measured: 8 tokens as 4 + 4 over two panels ran
  // 25% slower than one 8-token pass over one panel).
  if (a.num_tokens <= kMaxTokensTwoPanels) {
    for (; p + 2 <= p_end; p += 2) {
      RunTokens<2, kMaxTokensTwoPanels>(a, p,
                                        std::make_integer_sequence<int, kMaxTokensTwoPanels>());
    }
  }
  for (; p < p_end; ++p) {
    RunTokens<1, kMaxTileTokens>(a, p, std::make_integer_sequence<int, kMaxTileTokens>());
  }
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
