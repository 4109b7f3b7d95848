// Building blocks of the tensor-core decode attention kernel (decode_attention_mma.cu, one
// block per split): the 64-key K/V tile gather, one warp's online-softmax step on 16 keys, and
// the end of a split (the four warps' states merged in warp order, the output or partials
// written, the splits of a row merged by the last block to finish). A split is computed the
// same way whichever block runs it, so a row's bits do not depend on the batch. (A persistent
// kernel built from the same pieces was tried and removed: docs/perf.md, s3-attn.)
#ifndef CORVID_KERNELS_DECODE_ATTENTION_TILE_CUH_
#define CORVID_KERNELS_DECODE_ATTENTION_TILE_CUH_

#include "kernels/decode_attention_internal.cuh"
#include "kernels/mma_utils.cuh"

namespace corvid::kernels::decode_tile {

constexpr int kThreads = 128;
constexpr int kWarps = 4;
constexpr int kTile = 64;  // keys per tile, 16 per warp
constexpr int kRows = 16;  // mma rows: query heads of the group

template <int D>
__host__ __device__ constexpr int Stride() {
  return D + 8;  // 16 bytes of padding per row: ldmatrix rows land in different banks
}

// Keys [k0, k0 + kTile) of KV head kvh (zero-filled at and past `end`) into s_k / s_v. All of a
// thread's block-table reads are issued before its copies, so a tile costs one table round trip
// and one KV round trip, not one per row.
// Keys equal to `skip` are left out (not even zero-filled): see LoadKey.
template <int D>
constexpr int TileIters() {
  return kTile * (D / 8) / kThreads;  // 16-byte chunks of K (and of V) per thread
}

// First half of LoadTile: the block-table entries of the thread's chunks (loads only, so they
// can be issued early and be in flight while other work runs).
template <int D, bool kPow2>
__device__ __forceinline__ void GatherBlocks(int32_t (&blk)[TileIters<D>()],
                                             const DecodeAttentionParams& p,
                                             const int32_t* blocks, int k0, int end) {
  const int bs = p.kv.block_size, shift = 31 - __clz(bs);
#pragma unroll
  for (int i = 0; i < TileIters<D>(); ++i) {
    const int key = k0 + (threadIdx.x + i * kThreads) / (D / 8);
    blk[i] = key < end ? __ldg(blocks + PageOf<kPow2>(key, bs, shift)) : 0;
  }
}

// Second half: the copies.
template <typename T, int D, bool kPow2>
__device__ __forceinline__ void CopyTile(T* s_k, T* s_v, const int32_t (&blk)[TileIters<D>()],
                                         const DecodeAttentionParams& p, int kvh, int k0, int end,
                                         int skip) {
  constexpr int kChunks = D / 8;
  const T* kc = static_cast<const T*>(p.kv.k_cache);
  const T* vc = static_cast<const T*>(p.kv.v_cache);
  const int bs = p.kv.block_size;
#pragma unroll
  for (int i = 0; i < TileIters<D>(); ++i) {
    const int idx = threadIdx.x + i * kThreads;
    const int r = idx / kChunks, c = idx % kChunks;
    const int key = k0 + r;
    const bool valid = key < end;
    const int64_t off =
        ((static_cast<int64_t>(blk[i]) * p.kv.num_kv_heads + kvh) * bs + InPage<kPow2>(key, bs)) *
            D + c * 8;
    if (valid && key == skip) continue;
    CpAsync16(s_k + r * Stride<D>() + c * 8, valid ? kc + off : kc, valid ? 16 : 0);
    CpAsync16(s_v + r * Stride<D>() + c * 8, valid ? vc + off : vc, valid ? 16 : 0);
  }
}

template <typename T, int D>
__device__ __forceinline__ void LoadTile(T* s_k, T* s_v, const DecodeAttentionParams& p,
                                         const int32_t* blocks, int kvh, int k0, int end,
                                         int skip = -1) {
  int32_t blk[TileIters<D>()];
  if ((p.kv.block_size & (p.kv.block_size - 1)) == 0) {
    GatherBlocks<D, true>(blk, p, blocks, k0, end);
    CopyTile<T, D, true>(s_k, s_v, blk, p, kvh, k0, end, skip);
  } else {
    GatherBlocks<D, false>(blk, p, blocks, k0, end);
    CopyTile<T, D, false>(s_k, s_v, blk, p, kvh, k0, end, skip);
  }
}

// The one key row `key` (< end) of the tile starting at k0, by the first D / 8 threads.
template <typename T, int D>
__device__ __forceinline__ void LoadKey(T* s_k, T* s_v, const DecodeAttentionParams& p,
                                        const int32_t* blocks, int kvh, int k0, int key) {
  const int c = threadIdx.x;
  if (c >= D / 8) return;
  const int64_t off = KeyRowOffset<D>(p, blocks, kvh, key) + c * 8;
  const int r = key - k0;
  CpAsync16(s_k + r * Stride<D>() + c * 8, static_cast<const T*>(p.kv.k_cache) + off, 16);
  CpAsync16(s_v + r * Stride<D>() + c * 8, static_cast<const T*>(p.kv.v_cache) + off, 16);
}

// One warp's online-softmax state over its keys: rows r0 and r0 + 8 of the mma layout.
template <int D>
struct WarpState {
  float o[D / 8][4];
  float m0 = -INFINITY, m1 = -INFINITY, l0 = 0.0f, l1 = 0.0f;
};

// S = Q K^T for the warp's 16 keys of the tile, masked past `end`, folded into the state, then
// O += P V.
template <typename T, int D>
__device__ __forceinline__ void WarpTile(const uint32_t (&qf)[D / 16][4], const T* k_s,
                                         const T* v_s, int key0, int end, float scale_log2,
                                         WarpState<D>& st) {
  constexpr int kS = Stride<D>();
  const int lane = threadIdx.x & 31, mi = lane >> 3, mr = lane & 7;
  float s[2][4] = {};
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk) {
    uint32_t b[4];
    LdMatrixX4(b, k_s + ((mi >> 1) * 8 + mr) * kS + kk * 16 + (mi & 1) * 8);
    Mma16816<T>(s[0], qf[kk], b[0], b[1]);
    Mma16816<T>(s[1], qf[kk], b[2], b[3]);
  }
  float mx0 = -INFINITY, mx1 = -INFINITY;
#pragma unroll
  for (int j = 0; j < 2; ++j) {
#pragma unroll
    for (int e = 0; e < 2; ++e) {
      const bool valid = key0 + j * 8 + (lane & 3) * 2 + e < end;
      s[j][e] = valid ? s[j][e] * scale_log2 : -INFINITY;
      s[j][2 + e] = valid ? s[j][2 + e] * scale_log2 : -INFINITY;
      mx0 = fmaxf(mx0, s[j][e]);
      mx1 = fmaxf(mx1, s[j][2 + e]);
    }
  }
#pragma unroll
  for (int o_ = 1; o_ <= 2; o_ <<= 1) {
    mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, o_));
    mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, o_));
  }
  const float new0 = fmaxf(st.m0, mx0), new1 = fmaxf(st.m1, mx1);
  const float use0 = new0 == -INFINITY ? 0.0f : new0;
  const float use1 = new1 == -INFINITY ? 0.0f : new1;
  const float alpha0 = exp2f(st.m0 - use0), alpha1 = exp2f(st.m1 - use1);
  st.m0 = new0;
  st.m1 = new1;
  float sum0 = 0.0f, sum1 = 0.0f;
#pragma unroll
  for (int j = 0; j < 2; ++j) {
    s[j][0] = exp2f(s[j][0] - use0);
    s[j][1] = exp2f(s[j][1] - use0);
    s[j][2] = exp2f(s[j][2] - use1);
    s[j][3] = exp2f(s[j][3] - use1);
    sum0 += s[j][0] + s[j][1];
    sum1 += s[j][2] + s[j][3];
  }
  st.l0 = st.l0 * alpha0 + sum0;
  st.l1 = st.l1 * alpha1 + sum1;
  uint32_t a[4];
  a[0] = PackPair<T>(s[0][0], s[0][1]);
  a[1] = PackPair<T>(s[0][2], s[0][3]);
  a[2] = PackPair<T>(s[1][0], s[1][1]);
  a[3] = PackPair<T>(s[1][2], s[1][3]);
#pragma unroll
  for (int jd = 0; jd < D / 8; jd += 2) {
#pragma unroll
    for (int q = 0; q < 2; ++q) {
      st.o[jd + q][0] *= alpha0;
      st.o[jd + q][1] *= alpha0;
      st.o[jd + q][2] *= alpha1;
      st.o[jd + q][3] *= alpha1;
    }
    uint32_t b[4];
    LdMatrixX4Trans(b, v_s + ((mi & 1) * 8 + mr) * kS + (jd + (mi >> 1)) * 8);
    Mma16816<T>(st.o[jd], a, b[0], b[1]);
    Mma16816<T>(st.o[jd + 1], a, b[2], b[3]);
  }
}

// Merges the four warps' states of head g (< group), dimension d, in warp order; returns the
// unnormalised sum and sets *m, *l.
template <int D>
__device__ __forceinline__ float MergeWarps(const float* s_o, const float (*s_m)[kRows],
                                            const float (*s_l)[kRows], int g, int d, float* m,
                                            float* l) {
  float m_max = -INFINITY;
#pragma unroll
  for (int w = 0; w < kWarps; ++w) m_max = fmaxf(m_max, s_m[w][g]);
  float num = 0.0f, den = 0.0f;
#pragma unroll
  for (int w = 0; w < kWarps; ++w) {
    if (s_m[w][g] == -INFINITY) continue;
    const float a = exp2f(s_m[w][g] - m_max);
    num += a * s_o[(w * kRows + g) * D + d];
    den += a * s_l[w][g];
  }
  *m = m_max;
  *l = den;
  return num;
}
// End of one split: per-warp states to s_o ([kWarps][kRows][D] floats, free shared memory of at
// least that size), merged in warp order, written as the output (one split) or as partials, and
// with split_counters the row's splits merged by the last block to arrive. All threads call it.
template <typename T, int D>
__device__ __forceinline__ void FinishSplit(WarpState<D>& st, float* s_o,
                                            const DecodeAttentionParams& p, int row, int token,
                                            int kvh, int group, int split, int num_splits) {
  __shared__ float s_m[kWarps][kRows], s_l[kWarps][kRows];
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int head0 = kvh * group;
#pragma unroll
  for (int o_ = 1; o_ <= 2; o_ <<= 1) {
    st.l0 += __shfl_xor_sync(0xffffffffu, st.l0, o_);
    st.l1 += __shfl_xor_sync(0xffffffffu, st.l1, o_);
  }
  const int r0 = lane >> 2, col = (lane & 3) * 2;
  if ((lane & 3) == 0) {
    s_m[warp][r0] = st.m0;
    s_m[warp][r0 + 8] = st.m1;
    s_l[warp][r0] = st.l0;
    s_l[warp][r0 + 8] = st.l1;
  }
#pragma unroll
  for (int jd = 0; jd < D / 8; ++jd) {
    float* base = s_o + (warp * kRows + r0) * D + jd * 8 + col;
    base[0] = st.o[jd][0];
    base[1] = st.o[jd][1];
    base[8 * D] = st.o[jd][2];
    base[8 * D + 1] = st.o[jd][3];
  }
  __syncthreads();
  for (int idx = tid; idx < group * D; idx += kThreads) {
    const int g = idx / D, d = idx % D;
    float m, l;
    const float num = MergeWarps<D>(s_o, s_m, s_l, g, d, &m, &l);
    StoreSplitResult<T, D>(p, row, token, head0, g, d, split, num_splits, num, m, l);
  }
  if (num_splits > 1 && p.split_counters != nullptr) {
    MergeIfLast<T>(p, row, token, head0, group, num_splits, row * p.kv.num_kv_heads + kvh);
  }
}

}  // namespace corvid::kernels::decode_tile

#endif  // CORVID_KERNELS_DECODE_ATTENTION_TILE_CUH_
