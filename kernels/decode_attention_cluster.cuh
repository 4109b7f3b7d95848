// Split merge through a thread-block cluster (Hopper, sm_90+): the splits of one (row, KV head)
// run as one cluster (cluster x = grid x = max_splits, so block x of the grid is split x and
// cluster rank x), each split leaves its unnormalised sums and (max, sum of weights) in its own
// shared memory, and after one cluster barrier the splits' blocks merge the row together, each
// a slice of the (head, dimension pair) items, reading the other splits' partials through
// distributed shared memory. Against the in-launch merge through global memory
// (MergeIfLast) this drops the partial stores, the fence, the arrival counter and the last
// block's serial merge. Splits past the row's count exit at once (a cluster barrier waits for
// non-exited threads only) and are never read. The weights and sums are MergeSplitsUpTo<T, 8>'s,
// in split order, so the bits equal the other merges' (the attention test checks this).
#ifndef CORVID_KERNELS_DECODE_ATTENTION_CLUSTER_CUH_
#define CORVID_KERNELS_DECODE_ATTENTION_CLUSTER_CUH_

#include <cooperative_groups.h>

#include <utility>

#include "kernels/decode_attention_internal.cuh"
#include "kernels/pdl.cuh"

namespace corvid::kernels {

constexpr int kClusterMaxSplits = 8;  // portable cluster size

// Floats of one split's partials in shared memory: [rows][D] sums, then [rows] (m, l) pairs.
template <int D, int kRows>
constexpr int ClusterPartialFloats() {
  return kRows * D + 2 * kRows;
}

// Merges heads [head0, head0 + group) of the row over num_splits (2..8) splits whose partials
// each block stored at s_part (same offset in every block) before the call. Called by every
// thread of every block of the cluster that holds a split.
template <typename T, int D, int kThreads, int kRows>
__device__ __forceinline__ void ClusterMergeSplits(const DecodeAttentionParams& p, float* s_part,
                                                   int token, int head0, int group, int rank,
                                                   int num_splits) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  namespace cg = cooperative_groups;
  cg::cluster_group cluster = cg::this_cluster();
  cluster.sync();  // every split's partials are written and visible
  constexpr int kPairs = D / 2;
  const int items = group * kPairs;
  const int lo = rank * items / num_splits, hi = (rank + 1) * items / num_splits;
  for (int idx = lo + static_cast<int>(threadIdx.x); idx < hi; idx += kThreads) {
    const int g = idx / kPairs, d = (idx % kPairs) * 2;
    float2 ml[kClusterMaxSplits], v[kClusterMaxSplits];
#pragma unroll
    for (int s = 0; s < kClusterMaxSplits; ++s) {
      if (s < num_splits) {
        const float* part = cluster.map_shared_rank(s_part, s);
        ml[s] = reinterpret_cast<const float2*>(part + kRows * D)[g];
        v[s] = *reinterpret_cast<const float2*>(part + g * D + d);
      } else {
        ml[s] = make_float2(-INFINITY, 0.0f);
        v[s] = make_float2(0.0f, 0.0f);
      }
    }
    float m_max = -INFINITY, den = 0.0f, n0 = 0.0f, n1 = 0.0f;
#pragma unroll
    for (int s = 0; s < kClusterMaxSplits; ++s) m_max = fmaxf(m_max, ml[s].x);
#pragma unroll
    for (int s = 0; s < kClusterMaxSplits; ++s) {
      MergeAdd(ml[s].x, m_max, ml[s].y, v[s], &den, &n0, &n1);
    }
    T* out = static_cast<T*>(p.out) +
             (static_cast<int64_t>(token) * p.num_heads + head0 + g) * D + d;
    out[0] = FromFloat<T>(den > 0.0f ? n0 / den : 0.0f);
    out[1] = FromFloat<T>(den > 0.0f ? n1 / den : 0.0f);
  }
  cluster.sync();  // no block leaves while another still reads its shared memory
#else
  __trap();  // launched only on sm_90+ (DecodeClusterMergeAvailable)
#endif
}

// LaunchPdl (pdl.cuh) with clusters of cluster_x blocks along x.
template <typename... Params, typename... Args>
KernelError LaunchClusterPdl(void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem,
                             cudaStream_t stream, int cluster_x, Args&&... args) {
  cudaLaunchConfig_t config = {};
  config.gridDim = grid;
  config.blockDim = block;
  config.dynamicSmemBytes = smem;
  config.stream = stream;
  cudaLaunchAttribute attr[2];
  attr[0].id = cudaLaunchAttributeClusterDimension;
  attr[0].val.clusterDim.x = cluster_x;
  attr[0].val.clusterDim.y = 1;
  attr[0].val.clusterDim.z = 1;
  attr[1].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[1].val.programmaticStreamSerializationAllowed = 1;
  config.attrs = attr;
  config.numAttrs = PdlEnabled() ? 2 : 1;
  return static_cast<KernelError>(cudaLaunchKernelEx(&config, kernel, std::forward<Args>(args)...));
}

// True on devices of compute capability 9.0+ unless CORVID_DECODE_MERGE=counter (A/B timing:
// the merge through global memory and arrival counters); read once per process.
bool DecodeClusterMergeAvailable();

}  // namespace corvid::kernels

#endif  // CORVID_KERNELS_DECODE_ATTENTION_CLUSTER_CUH_
