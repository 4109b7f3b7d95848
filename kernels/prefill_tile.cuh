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

// Two floats as one register of two 16-bit elements (one packed conversion), lo in the low half.
template <typename T>
__device__ __forceinline__ uint32_t Pack2(float lo, float hi);
template <>
__device__ __forceinline__ uint32_t Pack2<__nv_bfloat16>(float lo, float hi) {
  const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<const uint32_t*>(&v);
}
template <>
__device__ __forceinline__ uint32_t Pack2<__half>(float lo, float hi) {
  const __half2 v = __floats2half2_rn(lo, hi);
  return *reinterpret_cast<const uint32_t*>(&v);
}

// Copy geometry of a kRows x D tile by kThreads threads, 16 bytes each: thread t copies chunk
// t % kChunks of rows t / kChunks + i * kRowStep. kRowStep is a multiple of 8, so a thread's
// rows share one swizzle pattern and its destinations are one base plus constants.
template <int D, int kThreads>
struct CopyPlan {
  static constexpr int kChunks = D / 8;
  static constexpr int kRowStep = kThreads / kChunks;
  static_assert(kThreads % kChunks == 0 && kRowStep % 8 == 0, "rows of one swizzle pattern");
  int row, chunk, dst;
  __device__ __forceinline__ CopyPlan()
      : row(threadIdx.x / kChunks), chunk(threadIdx.x % kChunks), dst(Swizzled<D>(row, chunk)) {}
};

// Queries [q_begin, q_begin + rows) of one head into a kRows x D tile; rows past `rows` are
// zero-filled (their results are never stored).
template <typename T, int D, int kRows, int kThreads>
__device__ __forceinline__ void LoadQTile(T* s_q, const PrefillAttentionParams& p, int q_begin,
                                          int rows, int head) {
  using Plan = CopyPlan<D, kThreads>;
  static_assert(kRows % Plan::kRowStep == 0, "whole rounds of 16-byte copies");
  const Plan plan;
  const T* qg = static_cast<const T*>(p.q);
#pragma unroll
  for (int i = 0; i < kRows / Plan::kRowStep; ++i) {
    const int r = plan.row + i * Plan::kRowStep;
    const bool ok = r < rows;
    const T* src =
        ok ? qg + (static_cast<int64_t>(q_begin + r) * p.num_heads + head) * D + plan.chunk * 8 : qg;
    CpAsync16(s_q + plan.dst + i * Plan::kRowStep * D, src, ok ? 16 : 0);
  }
}

// Keys [n0, n0 + kBN) of KV head `kvh` gathered through the block table; keys at or past
// kv_end are zero-filled, so masked lanes multiply zeros, never stale data. kPow2: block_size
// is 1 << bs_shift (a shift instead of a division per row).
template <typename T, int D, int kThreads, bool kPow2>
__device__ __forceinline__ void LoadKvTile(T* s_k, T* s_v, const PagedKvView& kv,
                                           const int32_t* blocks, int kvh, int n0, int kv_end,
                                           int bs_shift) {
  using Plan = CopyPlan<D, kThreads>;
  static_assert(kBN % Plan::kRowStep == 0, "whole rounds of 16-byte copies");
  const Plan plan;
  const T* kc = static_cast<const T*>(kv.k_cache);
  const T* vc = static_cast<const T*>(kv.v_cache);
  const int page_elems = kv.block_size * D;
#pragma unroll
  for (int i = 0; i < kBN / Plan::kRowStep; ++i) {
    const int key = n0 + plan.row + i * Plan::kRowStep;
    const bool ok = key < kv_end;
    // Rows past the end read (nothing, zero-filling) at the last key's address: no branch.
    const int k = ok ? key : kv_end - 1;
    const int b = kPow2 ? k >> bs_shift : k / kv.block_size;
    const int in_block = k - b * kv.block_size;
    // One wide multiply to the (block, head) page, 32-bit arithmetic inside it.
    const int64_t off = static_cast<int64_t>(blocks[b] * kv.num_kv_heads + kvh) * page_elems +
                        (in_block * D + plan.chunk * 8);
    const int dst = plan.dst + i * Plan::kRowStep * D;
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
template <bool kMask, int D, int kMt, bool kSkip = true>
__device__ __forceinline__ void SoftmaxTile(float s[kMt][kBN / 8][4], RowState<D, kMt>& st,
                                            int key0, int qpos, float scale_log2) {
  float alpha[kMt][2];
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
      alpha[mt][h] = Exp2(old_scaled - new_scaled);
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
      st.l[mt][h] = st.l[mt][h] * alpha[mt][h] + sum;
    }
  }
  // Late in a long row the maximum seldom moves: when no row of the warp moved, every alpha is
  // exactly 1 and the rescale (a multiply by 1) is skipped without changing a bit.
  bool moved = false;
#pragma unroll
  for (int mt = 0; mt < kMt; ++mt) moved |= alpha[mt][0] != 1.0f || alpha[mt][1] != 1.0f;
  if (kSkip && !__any_sync(0xffffffffu, moved)) return;
#pragma unroll
  for (int mt = 0; mt < kMt; ++mt) {
#pragma unroll
    for (int j = 0; j < D / 8; ++j) {
      st.o[mt][j][0] *= alpha[mt][0];
      st.o[mt][j][1] *= alpha[mt][0];
      st.o[mt][j][2] *= alpha[mt][1];
      st.o[mt][j][3] *= alpha[mt][1];
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
      a[mt][0] = Pack2<T>(s[mt][2 * kk][0], s[mt][2 * kk][1]);
      a[mt][1] = Pack2<T>(s[mt][2 * kk][2], s[mt][2 * kk][3]);
      a[mt][2] = Pack2<T>(s[mt][2 * kk + 1][0], s[mt][2 * kk + 1][1]);
      a[mt][3] = Pack2<T>(s[mt][2 * kk + 1][2], s[mt][2 * kk + 1][3]);
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
