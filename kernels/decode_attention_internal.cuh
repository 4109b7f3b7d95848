// Pieces shared by the decode-attention kernels (decode_attention.cu: any head_dim, CUDA
// cores; decode_attention_wide.cu, the default, and decode_attention_mma.cu: head_dim 64/128,
// tensor cores): the key-row address, the end of a split, the split merge and the launch
// entries of the tensor-core kernels.
#ifndef CORVID_KERNELS_DECODE_ATTENTION_INTERNAL_CUH_
#define CORVID_KERNELS_DECODE_ATTENTION_INTERNAL_CUH_

#include "kernels/cuda_utils.cuh"
#include "kernels/paged_attention.h"

namespace corvid::kernels {

// Page of a key and its row in the page: shifts when the page size is a power of two (the
// usual case; a division by a runtime value costs ~20 dependent instructions per chunk).
template <bool kPow2>
__device__ __forceinline__ int PageOf(int key, int bs, int shift) {
  return kPow2 ? key >> shift : key / bs;
}
template <bool kPow2>
__device__ __forceinline__ int InPage(int key, int bs) {
  return kPow2 ? key & (bs - 1) : key % bs;
}

// Element offset of the row of key `key` (KV head kvh) in the paged K or V cache (layout in
// rope_kv.h); `blocks` is the sequence's block table.
template <int D>
__device__ __forceinline__ int64_t KeyRowOffset(const DecodeAttentionParams& p,
                                                const int32_t* blocks, int kvh, int key) {
  const int64_t blk = blocks[key / p.kv.block_size];
  return ((blk * p.kv.num_kv_heads + kvh) * p.kv.block_size + key % p.kv.block_size) * D;
}

// Limits of MergeSplits (checked at launch).
constexpr int kMergeMaxSplits = 32;

// Writes element d (of D = head_dim) of head head0 + g of one split's result: the normalised
// output when the row has a single split, else the unnormalised sum `num` and (once per head)
// its max `m` and sum of weights `l` into the partial buffers that MergeSplits reads.
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
// finished last; splits with no keys or a weight that underflows to 0 add nothing). Each thread
// takes two adjacent dimensions of one head and issues all its loads at once (that head's (m, l)
// of every split and its two columns of every split's sum): the merge costs one memory round
// trip. Threads of one head compute the same weights the same way. Partials are read through L2
// (__ldcg): in the fused path other blocks of the same launch wrote them. kMax only bounds the
// unrolled loops (entries past num_splits add nothing), so every kMax gives the same bits.
// Folds split s (weight w from its max m, sum of weights l, columns v) into the merge sums.
__device__ __forceinline__ void MergeAdd(float m, float m_max, float l, float2 v, float* den,
                                         float* n0, float* n1) {
  const float w = m == -INFINITY ? 0.0f : exp2f(m - m_max);
  if (w != 0.0f) {
    *den = __fmaf_rn(w, l, *den);
    *n0 = __fmaf_rn(w, v.x, *n0);
    *n1 = __fmaf_rn(w, v.y, *n1);
  }
}

template <typename T, int kMax>
__device__ __forceinline__ void MergeSplitsUpTo(const DecodeAttentionParams& p, int row,
                                                int token, int head0, int nheads,
                                                int num_splits) {
  const int d_all = p.head_dim, pairs = d_all / 2;
  const int64_t head_row0 = static_cast<int64_t>(row) * p.num_heads + head0;
  const float2* ml_all = reinterpret_cast<const float2*>(p.partial_ml);
  for (int idx = threadIdx.x; idx < nheads * pairs; idx += blockDim.x) {
    const int g = idx / pairs, d = (idx % pairs) * 2;
    const int64_t base = (head_row0 + g) * p.max_splits;
    auto col = [&](int s) {
      return __ldcg(reinterpret_cast<const float2*>(p.partial_out + (base + s) * d_all + d));
    };
    float den = 0.0f, n0 = 0.0f, n1 = 0.0f;
    if constexpr (kMax <= 8) {  // the usual case: everything in one round trip
      float2 ml[kMax], v[kMax];
#pragma unroll
      for (int s = 0; s < kMax; ++s) {
        ml[s] = s < num_splits ? __ldcg(ml_all + base + s) : make_float2(-INFINITY, 0.0f);
        v[s] = s < num_splits ? col(s) : make_float2(0.0f, 0.0f);
      }
      float m_max = -INFINITY;
#pragma unroll
      for (int s = 0; s < kMax; ++s) m_max = fmaxf(m_max, ml[s].x);
#pragma unroll
      for (int s = 0; s < kMax; ++s) MergeAdd(ml[s].x, m_max, ml[s].y, v[s], &den, &n0, &n1);
    } else {  // the maxima first, then the sums 8 splits at a time (fewer live registers)
      float m[kMax];
#pragma unroll
      for (int s = 0; s < kMax; ++s) m[s] = s < num_splits ? __ldcg(&ml_all[base + s].x) : -INFINITY;
      float m_max = -INFINITY;
#pragma unroll
      for (int s = 0; s < kMax; ++s) m_max = fmaxf(m_max, m[s]);
#pragma unroll
      for (int s0 = 0; s0 < kMax; s0 += 8) {
        float l[8];
        float2 v[8];
#pragma unroll
        for (int j = 0; j < 8; ++j) {
          const bool in = s0 + j < num_splits;
          l[j] = in ? __ldcg(&ml_all[base + s0 + j].y) : 0.0f;
          v[j] = in ? col(s0 + j) : make_float2(0.0f, 0.0f);
        }
#pragma unroll
        for (int j = 0; j < 8; ++j) MergeAdd(m[s0 + j], m_max, l[j], v[j], &den, &n0, &n1);
      }
    }
    T* out = static_cast<T*>(p.out) +
             (static_cast<int64_t>(token) * p.num_heads + head0 + g) * d_all + d;
    out[0] = FromFloat<T>(den > 0.0f ? n0 / den : 0.0f);
    out[1] = FromFloat<T>(den > 0.0f ? n1 / den : 0.0f);
  }
}

template <typename T>
__device__ __forceinline__ void MergeSplits(const DecodeAttentionParams& p, int row, int token,
                                            int head0, int nheads, int num_splits) {
  if (num_splits <= 8) {
    MergeSplitsUpTo<T, 8>(p, row, token, head0, nheads, num_splits);
  } else if (num_splits <= 16) {
    MergeSplitsUpTo<T, 16>(p, row, token, head0, nheads, num_splits);
  } else {
    MergeSplitsUpTo<T, kMergeMaxSplits>(p, row, token, head0, nheads, num_splits);
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
// The tensor-core kernels (same contract, different numerics): 4 warps per split, each warp all
// of head_dim for 16 keys (decode_attention_mma.cu), or 8 warps per split splitting the scores by
// keys and the values by dimensions (decode_attention_wide.cu, the default).
KernelError LaunchDecodeAttentionMma(DataType dtype, const DecodeAttentionParams& p, int group,
                                     cudaStream_t stream);
KernelError LaunchDecodeAttentionWide(DataType dtype, const DecodeAttentionParams& p, int group,
                                      cudaStream_t stream);

}  // namespace corvid::kernels

#endif  // CORVID_KERNELS_DECODE_ATTENTION_INTERNAL_CUH_
