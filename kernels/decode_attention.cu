// Split-KV paged attention for single query tokens ("rows"), see paged_attention.h.
//
// Memory is the bound: each block streams one KV head's keys and values of one row's split
// once, for all query heads of the group. A key row of head_dim elements is read by
// head_dim / 8 threads with 16-byte loads (coalesced), several rows in flight per thread.
// Per 128-key tile: scores to shared memory, an online-softmax update per head, then the
// value pass; the per-thread partial outputs are reduced through shared memory at the end.
//
// This is the general kernel (any head_dim from 8 to 256, any group); head_dim 64/128 with up
// to 16 query heads per KV head go to the tensor-core kernel in decode_attention_mma.cu.
#include <cstdlib>
#include <cstring>

#include "kernels/decode_attention_internal.cuh"

namespace corvid::kernels {
namespace {

constexpr int kThreads = 128;
constexpr int kTile = 128;
constexpr float kLog2e = 1.4426950408889634f;

template <typename T, int D>
__device__ __forceinline__ const T* KvRow(const T* cache, const int32_t* blocks, int tok,
                                          int kvh, const PagedKvView& kv, int col) {
  const int64_t blk = blocks[tok / kv.block_size];
  const int off = tok % kv.block_size;
  return cache + ((blk * kv.num_kv_heads + kvh) * kv.block_size + off) * D + col;
}

template <typename T, int D, int G>
__global__ void __launch_bounds__(kThreads)
    DecodeAttentionKernel(DecodeAttentionParams p, int group, int group_chunks) {
  constexpr int kTpr = D / 8;             // threads per key row
  constexpr int kRpi = kThreads / kTpr;   // key rows per pass of the block
  constexpr int kLoads = kTile / kRpi;    // key rows per thread per tile
  constexpr int kBatch = kLoads < 8 ? kLoads : 8;
  __shared__ float s_p[G][kTile];
  __shared__ float s_alpha[G], s_m[G], s_l[G];
  __shared__ float s_red[kRpi][G][D];

  const int split = blockIdx.x;
  const int kvh = blockIdx.y / group_chunks;
  const int chunk = blockIdx.y % group_chunks;
  const int row = blockIdx.z;
  const int head0 = kvh * group + chunk * G;
  const int nheads = min(G, group - chunk * G);
  const int ctx = p.row_ctx[row];
  const int num_splits = DecodeSplits(ctx, p.split_tokens, p.split_cap);
  if (split >= num_splits) return;
  const int per_split = DecodeSplitKeys(ctx, p.split_tokens, p.split_cap);
  const int seq = p.row_seq ? p.row_seq[row] : row;
  const int token = p.row_token ? p.row_token[row] : row;
  const int begin = split * per_split;
  const int end = min(ctx, begin + per_split);
  const int tid = threadIdx.x, r = tid / kTpr, c = tid % kTpr;
  const int warp = tid >> 5, lane = tid & 31;

  float q[G][8], acc[G][8];
  const T* qbase =
      static_cast<const T*>(p.q) + (static_cast<int64_t>(token) * p.num_heads + head0) * D;
#pragma unroll
  for (int g = 0; g < G; ++g) {
    if (g < nheads) {
      Unpack8<T>(*reinterpret_cast<const uint4*>(qbase + g * D + c * 8), q[g]);
    } else {
#pragma unroll
      for (int e = 0; e < 8; ++e) q[g][e] = 0.0f;
    }
#pragma unroll
    for (int e = 0; e < 8; ++e) {
      q[g][e] *= p.scale * kLog2e;  // scores in the log2 domain: exp2 below
      acc[g][e] = 0.0f;
    }
  }
  if (tid < G) {
    s_m[tid] = -INFINITY;
    s_l[tid] = 0.0f;
  }
  const T* kc = static_cast<const T*>(p.kv.k_cache);
  const T* vc = static_cast<const T*>(p.kv.v_cache);
  const int32_t* blocks = (ctx > 0) ? p.kv.block_ids + p.kv.block_indptr[seq] : nullptr;
  __syncthreads();

  for (int tile0 = begin; tile0 < end; tile0 += kTile) {
    // Scores.
#pragma unroll
    for (int i0 = 0; i0 < kLoads; i0 += kBatch) {
      uint4 kv[kBatch];
#pragma unroll
      for (int b = 0; b < kBatch; ++b) {
        const int tok = tile0 + (i0 + b) * kRpi + r;
        kv[b] = tok < end ? *reinterpret_cast<const uint4*>(
                                KvRow<T, D>(kc, blocks, tok, kvh, p.kv, c * 8))
                          : make_uint4(0, 0, 0, 0);
      }
#pragma unroll
      for (int b = 0; b < kBatch; ++b) {
        const int j = (i0 + b) * kRpi + r;
        float k[8];
        Unpack8<T>(kv[b], k);
#pragma unroll
        for (int g = 0; g < G; ++g) {
          float dot = 0.0f;
#pragma unroll
          for (int e = 0; e < 8; ++e) dot = fmaf(q[g][e], k[e], dot);
#pragma unroll
          for (int o = kTpr / 2; o > 0; o >>= 1) dot += __shfl_xor_sync(0xffffffffu, dot, o);
          if (c == 0) s_p[g][j] = (tile0 + j < end) ? dot : -INFINITY;
        }
      }
    }
    __syncthreads();
    // Online-softmax update, one warp per head.
    for (int g = warp; g < G; g += kThreads / 32) {
      float mx = -INFINITY;
      for (int j = lane; j < kTile; j += 32) mx = fmaxf(mx, s_p[g][j]);
      mx = WarpMax(mx);
      const float m_old = s_m[g];
      const float m_new = fmaxf(m_old, mx);
      const float m_use = (m_new == -INFINITY) ? 0.0f : m_new;
      float sum = 0.0f;
      for (int j = lane; j < kTile; j += 32) {
        const float pj = exp2f(s_p[g][j] - m_use);
        s_p[g][j] = pj;
        sum += pj;
      }
      sum = WarpSum(sum);
      if (lane == 0) {
        const float alpha = exp2f(m_old - m_use);
        s_alpha[g] = alpha;
        s_l[g] = s_l[g] * alpha + sum;
        s_m[g] = m_new;
      }
    }
    __syncthreads();
    // Values.
#pragma unroll
    for (int g = 0; g < G; ++g) {
      const float alpha = s_alpha[g];
#pragma unroll
      for (int e = 0; e < 8; ++e) acc[g][e] *= alpha;
    }
#pragma unroll
    for (int i0 = 0; i0 < kLoads; i0 += kBatch) {
      uint4 vv[kBatch];
#pragma unroll
      for (int b = 0; b < kBatch; ++b) {
        const int tok = tile0 + (i0 + b) * kRpi + r;
        vv[b] = tok < end ? *reinterpret_cast<const uint4*>(
                                KvRow<T, D>(vc, blocks, tok, kvh, p.kv, c * 8))
                          : make_uint4(0, 0, 0, 0);
      }
#pragma unroll
      for (int b = 0; b < kBatch; ++b) {
        const int j = (i0 + b) * kRpi + r;
        float v[8];
        Unpack8<T>(vv[b], v);
#pragma unroll
        for (int g = 0; g < G; ++g) {
          const float pj = s_p[g][j];
#pragma unroll
          for (int e = 0; e < 8; ++e) acc[g][e] = fmaf(pj, v[e], acc[g][e]);
        }
      }
    }
    __syncthreads();
  }

  // Reduce the per-thread partial sums over the kRpi key-row groups.
#pragma unroll
  for (int g = 0; g < G; ++g) {
#pragma unroll
    for (int e = 0; e < 8; ++e) s_red[r][g][c * 8 + e] = acc[g][e];
  }
  __syncthreads();
  for (int idx = tid; idx < G * D; idx += kThreads) {
    const int g = idx / D, d = idx % D;
    if (g >= nheads) continue;
    float sum = 0.0f;
#pragma unroll 4
    for (int rr = 0; rr < kRpi; ++rr) sum += s_red[rr][g][d];
    StoreSplitResult<T, D>(p, row, token, head0, g, d, split, num_splits, sum, s_m[g], s_l[g]);
  }
}

// Merges the splits of one (row, head) (see MergeSplits). Rows that fit one split were written
// directly by the first kernel.
template <typename T>
__global__ void CombineSplitsKernel(DecodeAttentionParams p) {
  const int head = blockIdx.x, row = blockIdx.y;
  const int num_splits = DecodeSplits(p.row_ctx[row], p.split_tokens, p.split_cap);
  if (num_splits <= 1) return;
  const int token = p.row_token ? p.row_token[row] : row;
  MergeSplits<T>(p, row, token, head, 1, num_splits);
}

template <typename T>
KernelError LaunchCombine(const DecodeAttentionParams& p, cudaStream_t stream) {
  const dim3 grid(p.num_heads, p.num_rows);
  CombineSplitsKernel<T><<<grid, p.head_dim < 128 ? 128 : p.head_dim, 0, stream>>>(p);
  return LastLaunchError();
}

template <typename T, int D, int G>
KernelError LaunchWithGroup(const DecodeAttentionParams& p, int group, cudaStream_t stream) {
  const int chunks = (group + G - 1) / G;
  const dim3 grid(p.max_splits, p.kv.num_kv_heads * chunks, p.num_rows);
  DecodeAttentionKernel<T, D, G><<<grid, kThreads, 0, stream>>>(p, group, chunks);
  return LastLaunchError();
}

template <typename T, int D>
KernelError LaunchWithDim(const DecodeAttentionParams& p, int group, cudaStream_t stream) {
  if (group == 1) return LaunchWithGroup<T, D, 1>(p, group, stream);
  if (group <= 4) return LaunchWithGroup<T, D, 4>(p, group, stream);
  return LaunchWithGroup<T, D, 8>(p, group, stream);
}

template <typename T>
KernelError LaunchTyped(const DecodeAttentionParams& p, int group, cudaStream_t stream) {
  KernelError err = kKernelInvalidValue;
  switch (p.head_dim) {
    case 8: err = LaunchWithDim<T, 8>(p, group, stream); break;
    case 16: err = LaunchWithDim<T, 16>(p, group, stream); break;
    case 32: err = LaunchWithDim<T, 32>(p, group, stream); break;
    case 64: err = LaunchWithDim<T, 64>(p, group, stream); break;
    case 128: err = LaunchWithDim<T, 128>(p, group, stream); break;
    case 256: err = LaunchWithDim<T, 256>(p, group, stream); break;
    default: return kKernelInvalidValue;
  }
  if (err != kKernelOk || p.max_splits == 1) return err;
  return LaunchCombine<T>(p, stream);
}

// CORVID_DECODE_ATTN=warp4 selects the 4-warp tensor-core kernel (A/B timing); read once.
bool UseWideKernel() {
  static const bool wide = [] {
    const char* env = std::getenv("CORVID_DECODE_ATTN");
    return env == nullptr || std::strcmp(env, "warp4") != 0;
  }();
  return wide;
}

}  // namespace

bool DecodeAttentionFusesRope(int head_dim, int group) {
  static const bool enabled = [] {
    const char* env = std::getenv("CORVID_FUSED_ROPE");
    return env == nullptr || std::strcmp(env, "0") != 0;
  }();
  return enabled && UseWideKernel() && DecodeAttentionMmaSupports(head_dim, group);
}

bool DecodeAttentionSupports(int head_dim, int group) {
  return group >= 1 && (head_dim == 8 || head_dim == 16 || head_dim == 32 || head_dim == 64 ||
                        head_dim == 128 || head_dim == 256);
}

KernelError LaunchDecodeAttention(DataType dtype, const DecodeAttentionParams& p,
                                  StreamHandle stream) {
  if (p.num_rows == 0) return kKernelOk;
  if (p.kv.num_kv_heads <= 0 || p.num_heads % p.kv.num_kv_heads != 0 || p.max_splits < 1 ||
      p.max_splits > p.split_cap || p.kv.block_size <= 0 || p.split_tokens < 0) {
    return kKernelInvalidValue;
  }
  const int group = p.num_heads / p.kv.num_kv_heads;
  if (!DecodeAttentionSupports(p.head_dim, group)) return kKernelInvalidValue;
  if (p.max_splits > 1 && (p.partial_out == nullptr || p.partial_ml == nullptr)) {
    return kKernelInvalidValue;
  }
  if (p.max_splits > kMergeMaxSplits) return kKernelInvalidValue;
  if (p.rope_qkv != nullptr &&
      (p.rope_inv_freq == nullptr || !DecodeAttentionFusesRope(p.head_dim, group))) {
    return kKernelInvalidValue;
  }
  if (DecodeAttentionMmaSupports(p.head_dim, group)) {
    const KernelError err = UseWideKernel()
                                ? LaunchDecodeAttentionWide(dtype, p, group, AsStream(stream))
                                : LaunchDecodeAttentionMma(dtype, p, group, AsStream(stream));
    if (err != kKernelOk || p.max_splits == 1 || p.split_counters != nullptr) return err;
    return CORVID_DISPATCH_HALF(dtype, T, [&] { return LaunchCombine<T>(p, AsStream(stream)); });
  }
  return CORVID_DISPATCH_HALF(dtype, T, [&] { return LaunchTyped<T>(p, group, AsStream(stream)); });
}

}  // namespace corvid::kernels
