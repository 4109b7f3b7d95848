// FlashAttention-2-style causal prefill over the paged KV cache (see paged_attention.h).
//
// A block of 4 warps owns kPrefillTileQueries (128) queries of one sequence and one head; each
// warp owns 32 query rows as two 16-row slices (prefill_tile.cuh). Key/value tiles of 64 rows
// are gathered from the paged cache with cp.async into a double-buffered, swizzled shared-memory
// ring: the copy of tile t + 1 runs under the math of tile t, with one barrier per tile. S = Q K^T
// and O += P V run on mma.sync m16n8k16 with fp32 accumulators; P stays in registers. Only tiles
// that cross a warp's diagonal are masked, and a warp skips key tiles wholly past its rows
// (masked tiles would leave its state bit for bit unchanged, so this changes no result).
// When the whole grid fits in one wave, 8 warps of 16 rows run instead (LaunchPrefillAttention);
// per row the arithmetic is the same, so the two shapes give the same bits.
#include "kernels/mma_utils.cuh"
#include "kernels/paged_attention.h"
#include "kernels/prefill_tile.cuh"
#include "kernels/prefill_variants.h"

namespace corvid::kernels {
namespace {

using prefill::kBN;

template <typename T, int D, int kWarps, int kMt>
constexpr int SmemBytes() {
  return (kWarps * 16 * kMt + 4 * kBN) * D * static_cast<int>(sizeof(T));
}

// Stores the warp's normalised rows (rows past q_rows are padding and are not written).
template <typename T, int D, int kMt>
__device__ __forceinline__ void StoreRows(prefill::RowState<D, kMt>& st,
                                          const PrefillAttentionParams& p, int token0,
                                          int warp_row0, int q_rows, int head, int lane) {
  T* out = static_cast<T*>(p.out);
  const int col = (lane & 3) * 2;
#pragma unroll
  for (int mt = 0; mt < kMt; ++mt) {
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      float l = st.l[mt][h];
      l += __shfl_xor_sync(0xffffffffu, l, 1);
      l += __shfl_xor_sync(0xffffffffu, l, 2);
      const int row = warp_row0 + mt * 16 + h * 8 + (lane >> 2);
      if (row >= q_rows) continue;
      const float inv = l > 0.0f ? 1.0f / l : 0.0f;
      T* dst = out + (static_cast<int64_t>(token0 + row) * p.num_heads + head) * D + col;
#pragma unroll
      for (int jd = 0; jd < D / 8; ++jd) {
        *reinterpret_cast<uint32_t*>(dst + jd * 8) =
            PackPair<T>(st.o[mt][jd][2 * h] * inv, st.o[mt][jd][2 * h + 1] * inv);
      }
    }
  }
}

template <typename T, int D, int kWarps, int kMt, bool kQRegs, bool kSkip>
__global__ void __launch_bounds__(kWarps * 32)
    PrefillAttentionKernel(PrefillAttentionParams p, int group, int bs_shift) {
  constexpr int kBM = kWarps * 16 * kMt, kThreads = kWarps * 32;
  extern __shared__ __align__(128) unsigned char smem_raw[];
  T* s_q = reinterpret_cast<T*>(smem_raw);
  T* s_k = s_q + kBM * D;  // 2 buffers of kBN rows
  T* s_v = s_k + 2 * kBN * D;

  // Heads vary fastest and later tiles (more keys) start first, so the longest work of a
  // sequence is scheduled at the front and the tail of the grid is short tiles.
  const int tile = p.num_tiles - 1 - static_cast<int>(blockIdx.y);
  const int head = blockIdx.x, kvh = head / group;
  const int seq = p.tiles[2 * tile], q0 = p.tiles[2 * tile + 1];
  const int tok_begin = p.qo_indptr[seq];
  const int q_len = p.qo_indptr[seq + 1] - tok_begin;
  const int first_pos = p.ctx_len[seq] - q_len;
  const int q_rows = min(kBM, q_len - q0);
  const int kv_end = min(p.ctx_len[seq], first_pos + q0 + q_rows);
  const int32_t* blocks = p.kv.block_ids + p.kv.block_indptr[seq];
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;

  prefill::LoadQTile<T, D, kBM, kThreads>(s_q, p, tok_begin + q0, q_rows, head);
  CpAsyncCommit();
  // The block-size test is uniform over the grid: one branch per tile, not one per copied row.
  auto load_kv = [&](int buffer, int n0) {
    T* k_dst = s_k + buffer * kBN * D;
    T* v_dst = s_v + buffer * kBN * D;
    if (bs_shift >= 0) {
      prefill::LoadKvTile<T, D, kThreads, true>(k_dst, v_dst, p.kv, blocks, kvh, n0, kv_end, bs_shift);
    } else {
      prefill::LoadKvTile<T, D, kThreads, false>(k_dst, v_dst, p.kv, blocks, kvh, n0, kv_end, 0);
    }
    CpAsyncCommit();
  };
  load_kv(0, 0);

  const int warp_row0 = warp * 16 * kMt;
  const prefill::LaneCoords<D> lc(lane, warp_row0);
  const int warp_first = first_pos + q0 + warp_row0;  // position of the warp's first row
  // Position of its last row; -1 when the warp holds only padding rows.
  const int warp_last =
      warp_row0 < q_rows ? first_pos + q0 + min(warp_row0 + 16 * kMt, q_rows) - 1 : -1;
  const int qpos = warp_first + (lane >> 2);
  const float scale_log2 = p.scale * 1.4426950408889634f;
  prefill::RowState<D, kMt> st;
#pragma unroll
  for (int mt = 0; mt < kMt; ++mt) {
#pragma unroll
    for (int j = 0; j < D / 8; ++j) st.o[mt][j][0] = st.o[mt][j][1] = st.o[mt][j][2] = st.o[mt][j][3] = 0.0f;
    st.m[mt][0] = st.m[mt][1] = -INFINITY;
    st.l[mt][0] = st.l[mt][1] = 0.0f;
  }
  uint32_t qf[kQRegs ? D / 16 : 1][kMt][4];
  const uint32_t sq_addr = SmemAddr(s_q), sk_addr = SmemAddr(s_k), sv_addr = SmemAddr(s_v);
  constexpr uint32_t kTileBytes = kBN * D * sizeof(T);

  const int num_kv_tiles = (kv_end + kBN - 1) / kBN;
  for (int t = 0; t < num_kv_tiles; ++t) {
    CpAsyncWait<0>();
    __syncthreads();  // tile t visible to all; every warp is done with tile t - 1's buffer
    const int buf = t & 1;
    if (t + 1 < num_kv_tiles) load_kv(buf ^ 1, (t + 1) * kBN);
    if constexpr (kQRegs) {
      if (t == 0) {
#pragma unroll
        for (int kk = 0; kk < D / 16; ++kk) prefill::LoadQFrag<T, D, kMt>(qf[kk], sq_addr, kk, lc);
      }
    }
    const int n0 = t * kBN;
    if (n0 > warp_last) continue;  // past every row of this warp (or the warp has none)
    float s[kMt][kBN / 8][4];
    prefill::ScoreTile<T, D, kMt, kQRegs>(s, qf, sq_addr, sk_addr + buf * kTileBytes, lc);
    if (n0 + kBN - 1 > warp_first) {
      prefill::SoftmaxTile<true, D, kMt, kSkip>(s, st, n0 + (lane & 3) * 2, qpos, scale_log2);
    } else {
      prefill::SoftmaxTile<false, D, kMt, kSkip>(s, st, n0 + (lane & 3) * 2, qpos, scale_log2);
    }
    prefill::AccumulatePv<T, D, kMt>(s, st, sv_addr + buf * kTileBytes, lc);
  }
  StoreRows<T, D, kMt>(st, p, tok_begin + q0, warp_row0, q_rows, head, lane);
}

int BlockSizeShift(int block_size) {
  for (int s = 0; s < 31; ++s) {
    if ((1 << s) == block_size) return s;
  }
  return -1;
}

template <typename T, int D, int kWarps, int kMt, bool kQRegs, bool kSkip>
KernelError LaunchTyped(const PrefillAttentionParams& p, int group, cudaStream_t stream) {
  constexpr int kBytes = SmemBytes<T, D, kWarps, kMt>();
  static const cudaError_t attr_err =
      cudaFuncSetAttribute(PrefillAttentionKernel<T, D, kWarps, kMt, kQRegs, kSkip>,
                           cudaFuncAttributeMaxDynamicSharedMemorySize, kBytes);
  if (attr_err != cudaSuccess) return static_cast<KernelError>(attr_err);
  const dim3 grid(p.num_heads, p.num_tiles);
  PrefillAttentionKernel<T, D, kWarps, kMt, kQRegs, kSkip><<<grid, kWarps * 32, kBytes, stream>>>(
      p, group, BlockSizeShift(p.kv.block_size));
  return LastLaunchError();
}

template <int kWarps, int kMt, bool kQRegs, bool kSkip = true>
KernelError LaunchShape(DataType dtype, const PrefillAttentionParams& p, StreamHandle stream) {
  if (p.num_tiles == 0) return kKernelOk;
  if (p.kv.num_kv_heads <= 0 || p.num_heads % p.kv.num_kv_heads != 0 ||
      !PrefillAttentionSupports(p.head_dim) || p.kv.block_size <= 0 || p.num_tiles > 65535) {
    return kKernelInvalidValue;
  }
  const int group = p.num_heads / p.kv.num_kv_heads;
  return CORVID_DISPATCH_HALF(dtype, T, [&] {
    return p.head_dim == 64
               ? LaunchTyped<T, 64, kWarps, kMt, kQRegs, kSkip>(p, group, AsStream(stream))
               : LaunchTyped<T, 128, kWarps, kMt, kQRegs, kSkip>(p, group, AsStream(stream));
  });
}

static_assert(4 * 16 * 2 == kPrefillTileQueries && 8 * 16 == kPrefillTileQueries,
              "both launch shapes tile kPrefillTileQueries queries");

int MultiprocessorCount() {
  int dev = 0, sms = 0;
  if (cudaGetDevice(&dev) != cudaSuccess ||
      cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess) {
    return 0;
  }
  return sms;
}

}  // namespace

bool PrefillAttentionSupports(int head_dim) { return head_dim == 64 || head_dim == 128; }

// Two shapes with bit-identical per-row arithmetic (same key tiles, same reduction order): 8
// warps of 16 rows fill the SMs better when the whole grid fits in one wave (short prompts);
// otherwise 4 warps of 32 rows, which read half the shared memory per MMA, are faster.
KernelError LaunchPrefillAttention(DataType dtype, const PrefillAttentionParams& p,
                                   StreamHandle stream) {
  const int64_t blocks = static_cast<int64_t>(p.num_tiles) * p.num_heads;
  if (blocks <= MultiprocessorCount()) return LaunchShape<8, 1, true>(dtype, p, stream);
  return LaunchShape<4, 2, false>(dtype, p, stream);
}

int PrefillVariantCount() { return 3; }

const char* PrefillVariantName(int v) {
  static const char* const kNames[] = {"4w x 32 rows, Q smem", "8w x 16 rows, Q regs",
                                       "4w x 32 rows, no rescale skip"};
  return v >= 0 && v < 3 ? kNames[v] : "?";
}

int PrefillVariantTileQueries(int) { return kPrefillTileQueries; }

KernelError LaunchPrefillAttentionVariant(int v, DataType dtype, const PrefillAttentionParams& p,
                                          StreamHandle stream) {
  switch (v) {
    case 0:
      return LaunchShape<4, 2, false>(dtype, p, stream);
    case 1:
      return LaunchShape<8, 1, true>(dtype, p, stream);
    case 2:
      return LaunchShape<4, 2, false, false>(dtype, p, stream);
    default:
      return kKernelInvalidValue;
  }
}

}  // namespace corvid::kernels
