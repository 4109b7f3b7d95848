// Warp-level pieces of the FlashAttention-2 prefill kernel (prefill_attention.cu): shared-memory
// layout, tile loads from the paged cache, S = Q K^T, the online softmax and O += P V.
//
// A warp owns kMt 16-row slices of the query tile (kMt = 2: every K/V fragment read from shared
// memory feeds two row slices, which halves the shared-memory traffic per MMA). A query row's
// result depends only on its own data and on the key tiles, which start at absolute position 0
// and are visited in order, so it is the same however the queries are tiled or batched.
#ifndef CORVID_KERNELS_PREFILL_TILE_CUH_
#define CORVID_KERNELS_PREFILL_TILE_CUH_

#include "kernels/mma_utils.cuh"
#include "kernels/paged_attention.h"

namespace corvid::kernels::prefill {

constexpr int kBN = 64;  // keys per tile

// Tiles are rows of D 16-bit elements without padding; the 16-byte chunk c of row r sits at
// chunk c ^ (r & 7), so the 8 rows one ldmatrix matrix reads land in 8 different bank groups.
template <int D>
__device__ __forceinline__ int Swizzled(int row, int chunk) {
  return row * D + ((chunk ^ (row & 7)) << 3);
}

// 2^x on the special-function unit (2^-inf = 0, 2^0 = 1 exactly).
__device__ __forceinline__ float Exp2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

// ldmatrix on 32-bit shared-space addresses (generic pointers would hold two registers each).
__device__ __forceinline__ void Ldsm(uint32_t r[4], uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}
__device__ __forceinline__ void LdsmTrans(uint32_t r[4], uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}

// Queries [q_begin, q_begin + rows) of one head into a kRows x D tile; rows past `rows` are
// zero-filled (their results are never stored).
template <typename T, int D, int kRows, int kThreads>
__device__ __forceinline__ void LoadQTile(T* s_q, const PrefillAttentionParams& p, int q_begin,
                                          int rows, int head) {
  constexpr int kChunks = D / 8;
  static_assert(kRows * kChunks % kThreads == 0, "whole rounds of 16-byte copies");
  const T* qg = static_cast<const T*>(p.q);
#pragma unroll
  for (int i = 0; i < kRows * kChunks / kThreads; ++i) {
    const int idx = threadIdx.x + i * kThreads;
    const int r = idx / kChunks, c = idx % kChunks;
    const bool ok = r < rows;
    const T* src = ok ? qg + (static_cast<int64_t>(q_begin + r) * p.num_heads + head) * D + c * 8 : qg;
    CpAsync16(s_q + Swizzled<D>(r, c), src, ok ? 16 : 0);
  }
}

// Keys [n0, n0 + kBN) of KV head `kvh` gathered through the block table; keys at or past
// kv_end are zero-filled, so masked lanes multiply zeros, never stale data. bs_shift is
// log2(block_size) when that is a power of two, else -1.
template <typename T, int D, int kThreads>
__device__ __forceinline__ void LoadKvTile(T* s_k, T* s_v, const PagedKvView& kv,
                                           const int32_t* blocks, int kvh, int n0, int kv_end,
                                           int bs_shift) {
  constexpr int kChunks = D / 8;
  const T* kc = static_cast<const T*>(kv.k_cache);
  const T* vc = static_cast<const T*>(kv.v_cache);
  static_assert(kBN * kChunks % kThreads == 0, "whole rounds of 16-byte copies");
#pragma unroll
  for (int i = 0; i < kBN * kChunks / kThreads; ++i) {
    const int idx = threadIdx.x + i * kThreads;
    const int r = idx / kChunks, c = idx % kChunks;
    const int key = n0 + r;
    const bool ok = key < kv_end;
    int64_t off = 0;
    if (ok) {
      const int b = bs_shift >= 0 ? key >> bs_shift : key / kv.block_size;
      const int in_block = key - b * kv.block_size;
      off = ((static_cast<int64_t>(blocks[b]) * kv.num_kv_heads + kvh) * kv.block_size + in_block) * D +
            c * 8;
    }
    const int dst = Swizzled<D>(r, c);
    CpAsync16(s_k + dst, kc + off, ok ? 16 : 0);
    CpAsync16(s_v + dst, vc + off, ok ? 16 : 0);
  }
}

// Per-lane ldmatrix offsets (bytes). Every fragment row this kernel reads is a multiple of 8
// plus mr = lane & 7, so the swizzled position of logical chunk 8g + 2i + bit (bit a lane bit) is
// 8g + (2i ^ bit ^ mr): a per-lane table of 4 entries plus a compile-time 64 * g. Tables: sa for
// Q and V reads (bit = lane >> 4), sb for K reads (bit = (lane >> 3) & 1).
template <int D>
struct LaneCoords {
  int q_row, k_row, v_row;  // row offsets: Q (warp's first slice), K and V tiles
  int sa[4], sb[4];
  __device__ __forceinline__ LaneCoords(int lane, int warp_row0) {
    const int mi = lane >> 3, mr = lane & 7;
    q_row = (warp_row0 + (mi & 1) * 8 + mr) * D * 2;
    k_row = ((mi >> 1) * 8 + mr) * D * 2;
    v_row = ((mi & 1) * 8 + mr) * D * 2;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      sa[i] = ((2 * i) ^ (mi >> 1) ^ mr) << 4;
      sb[i] = ((2 * i) ^ (mi & 1) ^ mr) << 4;
    }
  }
  // Offset of the 16-byte chunk pair starting at logical chunk 2 * c2 (compile-time c2).
  __device__ __forceinline__ int A(int c2) const { return sa[c2 & 3] + (c2 >> 2) * 128; }
  __device__ __forceinline__ int B(int c2) const { return sb[c2 & 3] + (c2 >> 2) * 128; }
};

// A fragments (16 rows x 16 columns kk*16..) of the warp's kMt row slices of Q.
template <typename T, int D, int kMt>
__device__ __forceinline__ void LoadQFrag(uint32_t a[kMt][4], uint32_t s_q, int kk,
                                          const LaneCoords<D>& lc) {
#pragma unroll
  for (int mt = 0; mt < kMt; ++mt) Ldsm(a[mt], s_q + lc.q_row + mt * 16 * D * 2 + lc.A(kk));
}

// s = Q K^T for the warp's rows and the kBN keys of the tile (raw, unscaled scores). With
// kQRegs the Q fragments come from qf (loaded once), else from shared memory per step.
template <typename T, int D, int kMt, bool kQRegs>
__device__ __forceinline__ void ScoreTile(float s[kMt][kBN / 8][4],
                                          const uint32_t qf[kQRegs ? D / 16 : 1][kMt][4],
                                          uint32_t s_q, uint32_t k_s, const LaneCoords<D>& lc) {
#pragma unroll
  for (int mt = 0; mt < kMt; ++mt) {
#pragma unroll
    for (int j = 0; j < kBN / 8; ++j) s[mt][j][0] = s[mt][j][1] = s[mt][j][2] = s[mt][j][3] = 0.0f;
  }
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk) {
    uint32_t a_smem[kMt][4];
    if constexpr (!kQRegs) LoadQFrag<T, D, kMt>(a_smem, s_q, kk, lc);
#pragma unroll
    for (int jn = 0; jn < kBN / 8; jn += 2) {
      uint32_t b[4];
      Ldsm(b, k_s + lc.k_row + jn * 8 * D * 2 + lc.B(kk));
#pragma unroll
      for (int mt = 0; mt < kMt; ++mt) {
        if constexpr (kQRegs) {
          Mma16816<T>(s[mt][jn], qf[kk][mt], b[0], b[1]);
          Mma16816<T>(s[mt][jn + 1], qf[kk][mt], b[2], b[3]);
        } else {
          Mma16816<T>(s[mt][jn], a_smem[mt], b[0], b[1]);
          Mma16816<T>(s[mt][jn + 1], a_smem[mt], b[2], b[3]);
        }
      }
    }
  }
}

// Online-softmax state of the warp's rows: this lane holds rows lane/4 and lane/4 + 8 of each
// row slice; m is the running maximum of raw scores, l the running sum of probabilities.
template <int D, int kMt>
struct RowState {
  float o[kMt][D / 8][4];
  float m[kMt][2];
  float l[kMt][2];
};

// Turns raw scores into probabilities (in place) and rescales O and l. kMask applies the causal
// mask (key > query position gets -inf); tiles wholly below the diagonal skip it. key0 is the
// first key this lane holds, qpos the position of the lane's first row.
template <bool kMask, int D, int kMt>
__device__ __forceinline__ void SoftmaxTile(float s[kMt][kBN / 8][4], RowState<D, kMt>& st,
                                            int key0, int qpos, float scale_log2) {
#pragma unroll
  for (int mt = 0; mt < kMt; ++mt) {
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int pos = qpos + mt * 16 + h * 8;
      float mx = st.m[mt][h];
#pragma unroll
      for (int j = 0; j < kBN / 8; ++j) {
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          if (kMask && key0 + j * 8 + e > pos) s[mt][j][2 * h + e] = -INFINITY;
          mx = fmaxf(mx, s[mt][j][2 * h + e]);
        }
      }
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
      // Scaled maxima by one rounding each, so an unchanged maximum gives alpha = 2^0 = 1 exactly
      // (a tile wholly masked for this row then leaves its state bit for bit unchanged).
      const float old_scaled = st.m[mt][h] * scale_log2;
      const float new_scaled = mx == -INFINITY ? 0.0f : mx * scale_log2;
      const float alpha = Exp2(old_scaled - new_scaled);
      st.m[mt][h] = mx;
      float sum = 0.0f;
#pragma unroll
      for (int j = 0; j < kBN / 8; ++j) {
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          float& x = s[mt][j][2 * h + e];
          x = Exp2(fmaf(x, scale_log2, -new_scaled));
          sum += x;
        }
      }
      st.l[mt][h] = st.l[mt][h] * alpha + sum;
#pragma unroll
      for (int j = 0; j < D / 8; ++j) {
        st.o[mt][j][2 * h] *= alpha;
        st.o[mt][j][2 * h + 1] *= alpha;
      }
    }
  }
}

// O += P V: the S accumulators of two adjacent 8-key groups form one A operand (P never leaves
// registers); V fragments come from ldmatrix.trans.
template <typename T, int D, int kMt>
__device__ __forceinline__ void AccumulatePv(const float s[kMt][kBN / 8][4], RowState<D, kMt>& st,
                                             uint32_t v_s, const LaneCoords<D>& lc) {
#pragma unroll
  for (int kk = 0; kk < kBN / 16; ++kk) {
    uint32_t a[kMt][4];
#pragma unroll
    for (int mt = 0; mt < kMt; ++mt) {
      a[mt][0] = PackPair<T>(s[mt][2 * kk][0], s[mt][2 * kk][1]);
      a[mt][1] = PackPair<T>(s[mt][2 * kk][2], s[mt][2 * kk][3]);
      a[mt][2] = PackPair<T>(s[mt][2 * kk + 1][0], s[mt][2 * kk + 1][1]);
      a[mt][3] = PackPair<T>(s[mt][2 * kk + 1][2], s[mt][2 * kk + 1][3]);
    }
    const uint32_t v_row = v_s + lc.v_row + kk * 16 * D * 2;
#pragma unroll
    for (int jd = 0; jd < D / 8; jd += 2) {
      uint32_t b[4];
      LdsmTrans(b, v_row + lc.A(jd / 2));
#pragma unroll
      for (int mt = 0; mt < kMt; ++mt) {
        Mma16816<T>(st.o[mt][jd], a[mt], b[0], b[1]);
        Mma16816<T>(st.o[mt][jd + 1], a[mt], b[2], b[3]);
      }
    }
  }
}

}  // namespace corvid::kernels::prefill

#endif  // CORVID_KERNELS_PREFILL_TILE_CUH_
