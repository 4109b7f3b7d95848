// Split-KV decode attention on tensor cores, head_dim 64 or 128, up to 16 query heads per KV
// head (see paged_attention.h for the contract; decode_attention.cu dispatches here when
// CORVID_DECODE_ATTN=warp4; the default is the 8-warp kernel of decode_attention_wide.cu).
//
// One block of 4 warps per (split, KV head, row). The group's query heads are the 16 rows of
// the mma A operand (rows past the group are zero), so K and V are read once for all of them.
// The split's keys are walked in 64-key tiles gathered with cp.async into a two-stage ring
// (a 128-key split has both tiles in flight at once: one memory latency, not four). Each warp
// owns 16 keys of every tile and keeps its own online-softmax state; the four states are merged
// in shared memory in warp order, and the splits of a row are merged by the last block to
// finish (MergeIfLast), so a decode step costs one launch, and that launch hides behind the
// kernel before it (pdl.cuh). Everything is fixed by the row's
// context length alone: a row's bits do not depend on the batch.
#include "kernels/decode_attention_tile.cuh"
#include "kernels/pdl.cuh"

namespace corvid::kernels {
namespace {

using namespace decode_tile;  // NOLINT: the kernel's own building blocks

template <typename T, int D>
__host__ __device__ constexpr int SmemBytes() {
  return (kRows + 4 * kTile) * Stride<D>() * static_cast<int>(sizeof(T));
}

template <typename T, int D>
__global__ void __launch_bounds__(kThreads)
    DecodeAttentionMmaKernel(DecodeAttentionParams p, int group) {
  constexpr int kS = Stride<D>();
  extern __shared__ __align__(16) unsigned char smem_raw[];
  T* s_q = reinterpret_cast<T*>(smem_raw);
  T* s_k = s_q + kRows * kS;  // 2 stages of kTile rows
  T* s_v = s_k + 2 * kTile * kS;

  // Step metadata and the keys of earlier steps do not depend on the kernel before this one
  // (the RoPE/KV write of this step's token): with prefetch_kv, the first two tiles are in
  // flight before waiting for it (pdl.cuh), all but the newest key, loaded after the wait.
  const int split = blockIdx.x, kvh = blockIdx.y, row = blockIdx.z;
  const int ctx = p.row_ctx[row];
  const int num_splits = DecodeSplits(ctx, p.split_tokens, p.split_cap);
  if (split >= num_splits) return;
  const int per_split = DecodeSplitKeys(ctx, p.split_tokens, p.split_cap);
  const int begin = split * per_split, end = min(ctx, begin + per_split);
  const int seq = p.row_seq ? p.row_seq[row] : row;
  const int token = p.row_token ? p.row_token[row] : row;
  const int head0 = kvh * group;
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int32_t* blocks = ctx > 0 ? p.kv.block_ids + p.kv.block_indptr[seq] : nullptr;
  const int num_tiles = end > begin ? (end - begin + kTile - 1) / kTile : 0;
  const int newest = ctx - 1;
  const bool early = p.prefetch_kv != 0;
  if (early) {
    if (num_tiles > 0) LoadTile<T, D>(s_k, s_v, p, blocks, kvh, begin, end, newest);
    if (num_tiles > 1) {
      LoadTile<T, D>(s_k + kTile * kS, s_v + kTile * kS, p, blocks, kvh, begin + kTile, end, newest);
    }
  }
  WaitForPrimary();

  const T* qg = static_cast<const T*>(p.q) + (static_cast<int64_t>(token) * p.num_heads + head0) * D;
  for (int idx = tid; idx < kRows * (D / 8); idx += kThreads) {
    const int r = idx / (D / 8), c = idx % (D / 8);
    const bool valid = r < group;
    CpAsync16(s_q + r * kS + c * 8, valid ? qg + r * D + c * 8 : qg, valid ? 16 : 0);
  }
  if (!early) {
    if (num_tiles > 0) LoadTile<T, D>(s_k, s_v, p, blocks, kvh, begin, end);
  } else if (newest >= begin && newest < end && newest < begin + 2 * kTile) {
    const int t = (newest - begin) / kTile;
    LoadKey<T, D>(s_k + t * kTile * kS, s_v + t * kTile * kS, p, blocks, kvh, begin + t * kTile,
                  newest);
  }
  CpAsyncCommit();  // early: tiles 0 and 1, Q and the newest key; else Q and tile 0

  WarpState<D> st;
#pragma unroll
  for (int j = 0; j < D / 8; ++j) st.o[j][0] = st.o[j][1] = st.o[j][2] = st.o[j][3] = 0.0f;
  uint32_t qf[D / 16][4];
  const float scale_log2 = p.scale * 1.4426950408889634f;
  const int mi = lane >> 3, mr = lane & 7;
  for (int t = 0; t < num_tiles; ++t) {
    const int buf = t & 1;
    if (t + 1 < num_tiles && (t > 0 || !early)) {
      LoadTile<T, D>(s_k + (buf ^ 1) * kTile * kS, s_v + (buf ^ 1) * kTile * kS, p, blocks, kvh,
                     begin + (t + 1) * kTile, end);
      CpAsyncCommit();
      CpAsyncWait<1>();
    } else {
      CpAsyncWait<0>();
    }
    __syncthreads();
    if (t == 0) {
#pragma unroll
      for (int kk = 0; kk < D / 16; ++kk) {
        LdMatrixX4(qf[kk], s_q + ((mi & 1) * 8 + mr) * kS + kk * 16 + (mi >> 1) * 8);
      }
    }
    const int off = (buf * kTile + warp * 16) * kS;
    WarpTile<T, D>(qf, s_k + off, s_v + off, begin + t * kTile + warp * 16, end, scale_log2, st);
    __syncthreads();  // this buffer is refilled two iterations from now
  }
  CpAsyncWait<0>();
  __syncthreads();

  FinishSplit<T, D>(st, reinterpret_cast<float*>(s_k), p, row, token, kvh, group, split,
                    num_splits);
}

template <typename T, int D>
KernelError LaunchTyped(const DecodeAttentionParams& p, int group, cudaStream_t stream) {
  constexpr int kBytes = SmemBytes<T, D>();
  static const cudaError_t attr_err = cudaFuncSetAttribute(
      DecodeAttentionMmaKernel<T, D>, cudaFuncAttributeMaxDynamicSharedMemorySize, kBytes);
  if (attr_err != cudaSuccess) return static_cast<KernelError>(attr_err);
  const dim3 grid(p.max_splits, p.kv.num_kv_heads, p.num_rows);
  return LaunchPdl(DecodeAttentionMmaKernel<T, D>, grid, dim3(kThreads), kBytes, stream, p, group);
}

}  // namespace

bool DecodeAttentionMmaSupports(int head_dim, int group) {
  return (head_dim == 64 || head_dim == 128) && group >= 1 && group <= kRows;
}

KernelError LaunchDecodeAttentionMma(DataType dtype, const DecodeAttentionParams& p, int group,
                                     cudaStream_t stream) {
  return CORVID_DISPATCH_HALF(dtype, T, [&] {
    return p.head_dim == 64 ? LaunchTyped<T, 64>(p, group, stream)
                            : LaunchTyped<T, 128>(p, group, stream);
  });
}

}  // namespace corvid::kernels
