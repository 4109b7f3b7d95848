#include "engine/cpu_matmul.h"

#include <algorithm>

#include "engine/cpu_parallel.h"
#include "engine/cpu_simd.h"

namespace corvid {
namespace {

using simd::kLanes;
using simd::VecF;

// Register tile: R weight rows x TT tokens, one accumulator each. AVX2 has half the registers.
constexpr int kTileRows = 4;
constexpr int kTileTokens = kLanes == 16 ? 4 : 2;
// A batch-1 decode has one token: more rows per tile keeps enough FMA chains in flight.
constexpr int kTileRowsSingle = 8;

template <int R, int TT>
inline void Tile(const MatMulArgs& a, int n0, int t0) {
  VecF acc[R][TT];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
    for (int t = 0; t < TT; ++t) acc[r][t] = simd::VZero();
  }
  const float* w = a.w + static_cast<long>(n0) * a.k;
  const float* x = a.x + static_cast<long>(t0) * a.ldx;
  int k = 0;
  for (; k + kLanes <= a.k; k += kLanes) {
    VecF wv[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) wv[r] = simd::VLoad(w + static_cast<long>(r) * a.k + k);
#pragma GCC unroll 8
    for (int t = 0; t < TT; ++t) {
      const VecF xv = simd::VLoad(x + static_cast<long>(t) * a.ldx + k);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) acc[r][t] = simd::VFma(wv[r], xv, acc[r][t]);
    }
  }
  if (k < a.k) {
    const int rest = a.k - k;
    VecF wv[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) wv[r] = simd::VLoadPartial(w + static_cast<long>(r) * a.k + k, rest);
#pragma GCC unroll 8
    for (int t = 0; t < TT; ++t) {
      const VecF xv = simd::VLoadPartial(x + static_cast<long>(t) * a.ldx + k, rest);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) acc[r][t] = simd::VFma(wv[r], xv, acc[r][t]);
    }
  }
  for (int t = 0; t < TT; ++t) {
    float* y = a.y + static_cast<long>(t0 + t) * a.ldy + n0;
    for (int r = 0; r < R; ++r) {
      float v = simd::VSum(acc[r][t]);
      if (a.bias != nullptr) v += a.bias[n0 + r];
      y[r] = a.accumulate ? y[r] + v : v;
    }
  }
}

// All tokens against rows [n0, n0 + R).
template <int R>
void RowBlock(const MatMulArgs& a, int n0) {
  int t = 0;
  for (; t + kTileTokens <= a.num_tokens; t += kTileTokens) Tile<R, kTileTokens>(a, n0, t);
  switch (a.num_tokens - t) {
    case 3: Tile<R, 3>(a, n0, t); break;
    case 2: Tile<R, 2>(a, n0, t); break;
    case 1: Tile<R, 1>(a, n0, t); break;
    default: break;
  }
}

void RowRange(const MatMulArgs& a, int n_begin, int n_end) {
  int n = n_begin;
  if (a.num_tokens == 1) {
    for (; n + kTileRowsSingle <= n_end; n += kTileRowsSingle) RowBlock<kTileRowsSingle>(a, n);
  }
  for (; n + kTileRows <= n_end; n += kTileRows) RowBlock<kTileRows>(a, n);
  for (; n < n_end; ++n) RowBlock<1>(a, n);
}

}  // namespace

void MatMul(const MatMulArgs& a) {
  // Chunks of whole tiles, several per thread so that a thread slowed by another process on a
  // shared machine does not hold the others back.
  constexpr int kAlign = kTileRowsSingle;
  const int target_chunks = 64;
  int chunk = (a.rows + target_chunks - 1) / target_chunks;
  chunk = std::max(kAlign, (chunk + kAlign - 1) / kAlign * kAlign);
  const int num_chunks = (a.rows + chunk - 1) / chunk;
  ParallelFor(num_chunks,
              [&](int c) { RowRange(a, c * chunk, std::min(a.rows, (c + 1) * chunk)); });
}

}  // namespace corvid
