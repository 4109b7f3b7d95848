// Pieces shared by the two decode-attention kernels (decode_attention.cu: any head_dim, CUDA
// cores; decode_attention_mma.cu: head_dim 64/128, tensor cores): the split merge and the
// launch entry of the tensor-core kernel.
#ifndef CORVID_KERNELS_DECODE_ATTENTION_INTERNAL_CUH_
#define CORVID_KERNELS_DECODE_ATTENTION_INTERNAL_CUH_

#include "kernels/cuda_utils.cuh"
#include "kernels/paged_attention.h"

namespace corvid::kernels {

// Merges the splits of heads [head0, head0 + nheads) of one row: weights exp2(m_s - M) on each
// split's unnormalised sum, splits in increasing order (so the bits never depend on which block
// finished last). Partials are read through L2 (__ldcg): in the fused path they were written
// by other blocks of the same launch. All threads of the block call it.
template <typename T>
__device__ __forceinline__ void MergeSplits(const DecodeAttentionParams& p, int row, int token,
                                            int head0, int nheads, int num_splits) {
  const int d_all = p.head_dim;
  for (int idx = threadIdx.x; idx < nheads * d_all; idx += blockDim.x) {
    const int g = idx / d_all, d = idx % d_all;
    const int64_t head_row = static_cast<int64_t>(row) * p.num_heads + head0 + g;
    const float* ml = p.partial_ml + head_row * p.max_splits * 2;
    float m_max = -INFINITY;
    for (int s = 0; s < num_splits; ++s) m_max = fmaxf(m_max, __ldcg(ml + 2 * s));
    float num = 0.0f, den = 0.0f;
    for (int s = 0; s < num_splits; ++s) {
      const float m = __ldcg(ml + 2 * s);
      if (m == -INFINITY) continue;
      const float w = exp2f(m - m_max);
      den += w * __ldcg(ml + 2 * s + 1);
      num += w * __ldcg(p.partial_out + (head_row * p.max_splits + s) * d_all + d);
    }
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
