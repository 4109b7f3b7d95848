// Pieces shared by the two decode-attention kernels (decode_attention.cu: any head_dim, CUDA
// cores; decode_attention_mma.cu: head_dim 64/128, tensor cores): the split merge and the
// launch entry of the tensor-core kernel.
#ifndef CORVID_KERNELS_DECODE_ATTENTION_INTERNAL_CUH_
#define CORVID_KERNELS_DECODE_ATTENTION_INTERNAL_CUH_

#include "kernels/cuda_utils.cuh"
#include "kernels/paged_attention.h"

namespace corvid::kernels {

// Limits of MergeSplits (checked at launch).
constexpr int kMergeMaxHeads = 16;
constexpr int kMergeMaxSplits = 32;

// Writes element d (of D = head_dim) of head head0 + g of one split's result: the normalised output when the row
// has a single split, else the unnormalised sum `num` and (once per head) its max `m` and sum of
// weights `l` into the partial buffers that MergeSplits reads.
template <typename T, int D>
__device__ __forceinline__ void StoreSplitResult(const DecodeAttentionParams& p, int row,
                                                 int token, int head0, int g, int d, int split,
                                                 int num_splits, float num, float m, float l) {
  if (num_splits == 1) {
    const int64_t out_row = static_cast<int64_t>(token) * p.num_heads + head0 + g;
    static_cast<T*>(p.out)[out_row * D + d] = FromFloat<T>(l > 0.0f ? num / l : 0.0f);
    return;
  }
  const int64_t head_row = static_cast<int64_t>(row) * p.num_heads + head0 + g;
  const int64_t part = head_row * p.max_splits + split;
  p.partial_out[part * D + d] = num;
  if (d == 0) {
    p.partial_ml[part * 2] = m;
    p.partial_ml[part * 2 + 1] = l;
  }
}

// Merges the splits of heads [head0, head0 + nheads) of one row: weights exp2(m_s - M) on each
// split's unnormalised sum, splits in increasing order (so the bits never depend on which block
// finished last; splits with no keys or a weight that underflows to 0 add nothing). Every load
// of a thread is issued before its first use: the merge costs two memory round trips, not one
// per split. Partials are read through L2 (__ldcg): in the fused path other blocks of the same
// launch wrote them. All threads of the block call it.
template <typename T>
__device__ __forceinline__ void MergeSplits(const DecodeAttentionParams& p, int row, int token,
                                            int head0, int nheads, int num_splits) {
  __shared__ float s_w[kMergeMaxHeads][kMergeMaxSplits];
  __shared__ float s_den[kMergeMaxHeads];
  const int d_all = p.head_dim;
  const int64_t head_row0 = static_cast<int64_t>(row) * p.num_heads + head0;
  if (threadIdx.x < nheads) {
    const int g = threadIdx.x;
    const float* ml = p.partial_ml + (head_row0 + g) * p.max_splits * 2;
    float m[kMergeMaxSplits], l[kMergeMaxSplits];
#pragma unroll
    for (int s = 0; s < kMergeMaxSplits; ++s) {
      m[s] = s < num_splits ? __ldcg(ml + 2 * s) : -INFINITY;
      l[s] = s < num_splits ? __ldcg(ml + 2 * s + 1) : 0.0f;
    }
    float m_max = -INFINITY;
#pragma unroll
    for (int s = 0; s < kMergeMaxSplits; ++s) m_max = fmaxf(m_max, m[s]);
    float den = 0.0f;
#pragma unroll
    for (int s = 0; s < kMergeMaxSplits; ++s) {
      const float w = m[s] == -INFINITY ? 0.0f : exp2f(m[s] - m_max);
      s_w[g][s] = w;
      if (w != 0.0f) den += w * l[s];
    }
    s_den[g] = den;
  }
  __syncthreads();
  for (int idx = threadIdx.x; idx < nheads * d_all; idx += blockDim.x) {
    const int g = idx / d_all, d = idx % d_all;
    const float* part = p.partial_out + (head_row0 + g) * p.max_splits * d_all + d;
    float v[kMergeMaxSplits];
#pragma unroll
    for (int s = 0; s < kMergeMaxSplits; ++s) v[s] = s < num_splits ? __ldcg(part + s * d_all) : 0.0f;
    float num = 0.0f;
#pragma unroll
    for (int s = 0; s < kMergeMaxSplits; ++s) {
      if (s_w[g][s] != 0.0f) num += s_w[g][s] * v[s];
    }
    const float den = s_den[g];
    T* out = static_cast<T*>(p.out) + (static_cast<int64_t>(token) * p.num_heads + head0 + g) * d_all;
    out[d] = FromFloat<T>(den > 0.0f ? num / den : 0.0f);
  }
}

// Fused merge: called by every block of a split row after it stored its partials. The last
// block of (row, KV head) to arrive merges all splits and re-arms the counter for the next
// launch. Returns without work in the other blocks.
template <typename T>
__device__ __forceinline__ void MergeIfLast(const DecodeAttentionParams& p, int row, int token,
                                            int head0, int nheads, int num_splits,
                                            int counter_index) {
  __shared__ int s_last;
  __threadfence();  // this block's partials are visible before its arrival is counted
  __syncthreads();
  if (threadIdx.x == 0) {
    int* counter = p.split_counters + counter_index;
    const int arrived = atomicAdd(counter, 1) + 1;
    s_last = arrived == num_splits;
    if (s_last) *counter = 0;
  }
  __syncthreads();
  if (!s_last) return;
  __threadfence();
  MergeSplits<T>(p, row, token, head0, nheads, num_splits);
}

bool DecodeAttentionMmaSupports(int head_dim, int group);
KernelError LaunchDecodeAttentionMma(DataType dtype, const DecodeAttentionParams& p, int group,
                                     cudaStream_t stream);

}  // namespace corvid::kernels

#endif  // CORVID_KERNELS_DECODE_ATTENTION_INTERNAL_CUH_
