// FlashAttention-2-style causal prefill over the paged KV cache (see paged_attention.h).
//
// A block of 4 warps owns 64 queries of one sequence and one head; each warp owns 16 query
// rows. Key/value tiles of 64 rows are gathered from the paged cache with cp.async into a
// double-buffered shared-memory ring (zero-filled past the visible range, so masked lanes
// multiply zeros, never stale data). S = Q K^T and O += P V run on mma.sync m16n8k16 with fp32
// accumulators; the softmax is online in registers (FA2: rescale O, divide once at the end).
#include "kernels/mma_utils.cuh"
#include "kernels/paged_attention.h"

namespace corvid::kernels {
namespace {

constexpr int kBM = kPrefillTileQueries;
constexpr int kBN = 64;
constexpr int kThreads = 128;

template <int D>
__host__ __device__ constexpr int SmemStride() {
  return D + 8;  // 16 bytes of padding per row: ldmatrix rows land in different banks
}

template <typename T, int D>
__host__ __device__ constexpr int SmemBytes() {
  return (kBM + 4 * kBN) * SmemStride<D>() * static_cast<int>(sizeof(T));
}

template <typename T, int D>
__device__ __forceinline__ void LoadKvTile(T* s_k, T* s_v, const PagedKvView& kv,
                                           const int32_t* blocks, int kvh, int n0, int kv_end) {
  constexpr int kChunks = D / 8;
  const T* kc = static_cast<const T*>(kv.k_cache);
  const T* vc = static_cast<const T*>(kv.v_cache);
  for (int idx = threadIdx.x; idx < kBN * kChunks; idx += kThreads) {
    const int rr = idx / kChunks, cc = idx % kChunks;
    const int key = n0 + rr;
    const bool valid = key < kv_end;
    const T* ksrc = kc;
    const T* vsrc = vc;
    if (valid) {
      const int64_t blk = blocks[key / kv.block_size];
      const int64_t off =
          ((blk * kv.num_kv_heads + kvh) * kv.block_size + key % kv.block_size) * D + cc * 8;
      ksrc = kc + off;
      vsrc = vc + off;
    }
    CpAsync16(s_k + rr * SmemStride<D>() + cc * 8, ksrc, valid ? 16 : 0);
    CpAsync16(s_v + rr * SmemStride<D>() + cc * 8, vsrc, valid ? 16 : 0);
  }
}

template <typename T, int D>
__global__ void __launch_bounds__(kThreads)
    PrefillAttentionKernel(PrefillAttentionParams p, int group) {
  constexpr int kS = SmemStride<D>();
  extern __shared__ __align__(16) unsigned char smem_raw[];
  T* s_q = reinterpret_cast<T*>(smem_raw);
  T* s_k = s_q + kBM * kS;   // 2 buffers of kBN rows
  T* s_v = s_k + 2 * kBN * kS;

  // Later tiles see more keys: start them first.
  const int tile = p.num_tiles - 1 - static_cast<int>(blockIdx.x);
  const int head = blockIdx.y, kvh = head / group;
  const int seq = p.tiles[2 * tile], q0 = p.tiles[2 * tile + 1];
  const int tok_begin = p.qo_indptr[seq];
  const int q_len = p.qo_indptr[seq + 1] - tok_begin;
  const int ctx = p.ctx_len[seq];
  const int first_pos = ctx - q_len;
  const int q_rows = min(kBM, q_len - q0);
  const int kv_end = min(ctx, first_pos + q0 + q_rows);
  const int32_t* blocks = p.kv.block_ids + p.kv.block_indptr[seq];
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;

  const T* qg = static_cast<const T*>(p.q);
  for (int idx = tid; idx < kBM * (D / 8); idx += kThreads) {
    const int rr = idx / (D / 8), cc = idx % (D / 8);
    const bool valid = rr < q_rows;
    const T* src =
        valid ? qg + (static_cast<int64_t>(tok_begin + q0 + rr) * p.num_heads + head) * D + cc * 8
              : qg;
    CpAsync16(s_q + rr * kS + cc * 8, src, valid ? 16 : 0);
  }
  CpAsyncCommit();
  LoadKvTile<T, D>(s_k, s_v, p.kv, blocks, kvh, 0, kv_end);
  CpAsyncCommit();

  uint32_t qf[D / 16][4];
  float o[D / 8][4];
#pragma unroll
  for (int j = 0; j < D / 8; ++j) o[j][0] = o[j][1] = o[j][2] = o[j][3] = 0.0f;
  float m0 = -INFINITY, m1 = -INFINITY, l0 = 0.0f, l1 = 0.0f;
  const float scale_log2 = p.scale * 1.4426950408889634f;
  const int row0 = warp * 16 + (lane >> 2);
  const int qpos0 = first_pos + q0 + row0, qpos1 = qpos0 + 8;
  const int mi = lane >> 3, mr = lane & 7;  // ldmatrix: which 8x8 matrix, which of its rows
  const int num_kv_tiles = (kv_end + kBN - 1) / kBN;

  for (int t = 0; t < num_kv_tiles; ++t) {
    const int buf = t & 1;
    if (t + 1 < num_kv_tiles) {
      LoadKvTile<T, D>(s_k + (buf ^ 1) * kBN * kS, s_v + (buf ^ 1) * kBN * kS, p.kv, blocks, kvh,
                       (t + 1) * kBN, kv_end);
      CpAsyncCommit();
      CpAsyncWait<1>();
    } else {
      CpAsyncWait<0>();
    }
    __syncthreads();
    if (t == 0) {
#pragma unroll
      for (int kk = 0; kk < D / 16; ++kk) {
        LdMatrixX4(qf[kk], s_q + (warp * 16 + (mi & 1) * 8 + mr) * kS + kk * 16 + (mi >> 1) * 8);
      }
    }
    const T* k_s = s_k + buf * kBN * kS;
    const T* v_s = s_v + buf * kBN * kS;

    float s[kBN / 8][4];
#pragma unroll
    for (int j = 0; j < kBN / 8; ++j) s[j][0] = s[j][1] = s[j][2] = s[j][3] = 0.0f;
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk) {
#pragma unroll
      for (int jn = 0; jn < kBN / 8; jn += 2) {
        uint32_t b[4];
        LdMatrixX4(b, k_s + ((jn + (mi >> 1)) * 8 + mr) * kS + kk * 16 + (mi & 1) * 8);
        Mma16816<T>(s[jn], qf[kk], b[0], b[1]);
        Mma16816<T>(s[jn + 1], qf[kk], b[2], b[3]);
      }
    }

    // Mask (causal and past-the-end), then the online-softmax update of rows r0 and r0 + 8.
    const int key_base = t * kBN + (lane & 3) * 2;
    float mx0 = -INFINITY, mx1 = -INFINITY;
#pragma unroll
    for (int j = 0; j < kBN / 8; ++j) {
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const int key = key_base + j * 8 + e;
        const bool in_range = key < kv_end;
        s[j][e] = (in_range && key <= qpos0) ? s[j][e] * scale_log2 : -INFINITY;
        s[j][2 + e] = (in_range && key <= qpos1) ? s[j][2 + e] * scale_log2 : -INFINITY;
        mx0 = fmaxf(mx0, s[j][e]);
        mx1 = fmaxf(mx1, s[j][2 + e]);
      }
    }
#pragma unroll
    for (int o_ = 1; o_ <= 2; o_ <<= 1) {
      mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, o_));
      mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, o_));
    }
    const float new0 = fmaxf(m0, mx0), new1 = fmaxf(m1, mx1);
    const float use0 = new0 == -INFINITY ? 0.0f : new0;
    const float use1 = new1 == -INFINITY ? 0.0f : new1;
    const float alpha0 = exp2f(m0 - use0), alpha1 = exp2f(m1 - use1);
    m0 = new0;
    m1 = new1;
    float sum0 = 0.0f, sum1 = 0.0f;
#pragma unroll
    for (int j = 0; j < kBN / 8; ++j) {
      s[j][0] = exp2f(s[j][0] - use0);
      s[j][1] = exp2f(s[j][1] - use0);
      s[j][2] = exp2f(s[j][2] - use1);
      s[j][3] = exp2f(s[j][3] - use1);
      sum0 += s[j][0] + s[j][1];
      sum1 += s[j][2] + s[j][3];
    }
    l0 = l0 * alpha0 + sum0;
    l1 = l1 * alpha1 + sum1;
#pragma unroll
    for (int j = 0; j < D / 8; ++j) {
      o[j][0] *= alpha0;
      o[j][1] *= alpha0;
      o[j][2] *= alpha1;
      o[j][3] *= alpha1;
    }

    // O += P V: the S accumulators of two adjacent key groups form one A operand.
#pragma unroll
    for (int kk = 0; kk < kBN / 16; ++kk) {
      uint32_t a[4];
      a[0] = PackPair<T>(s[2 * kk][0], s[2 * kk][1]);
      a[1] = PackPair<T>(s[2 * kk][2], s[2 * kk][3]);
      a[2] = PackPair<T>(s[2 * kk + 1][0], s[2 * kk + 1][1]);
      a[3] = PackPair<T>(s[2 * kk + 1][2], s[2 * kk + 1][3]);
#pragma unroll
      for (int jd = 0; jd < D / 8; jd += 2) {
        uint32_t b[4];
        LdMatrixX4Trans(b, v_s + (kk * 16 + (mi & 1) * 8 + mr) * kS + (jd + (mi >> 1)) * 8);
        Mma16816<T>(o[jd], a, b[0], b[1]);
        Mma16816<T>(o[jd + 1], a, b[2], b[3]);
      }
    }
    __syncthreads();  // this buffer is refilled two iterations from now
  }

#pragma unroll
  for (int o_ = 1; o_ <= 2; o_ <<= 1) {
    l0 += __shfl_xor_sync(0xffffffffu, l0, o_);
    l1 += __shfl_xor_sync(0xffffffffu, l1, o_);
  }
  const float inv0 = l0 > 0.0f ? 1.0f / l0 : 0.0f;
  const float inv1 = l1 > 0.0f ? 1.0f / l1 : 0.0f;
  T* out = static_cast<T*>(p.out);
  const int col = (lane & 3) * 2;
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    const int row = row0 + half * 8;
    if (row >= q_rows) continue;
    const float inv = half ? inv1 : inv0;
    T* dst = out + (static_cast<int64_t>(tok_begin + q0 + row) * p.num_heads + head) * D + col;
#pragma unroll
    for (int jd = 0; jd < D / 8; ++jd) {
      *reinterpret_cast<uint32_t*>(dst + jd * 8) =
          PackPair<T>(o[jd][2 * half] * inv, o[jd][2 * half + 1] * inv);
    }
  }
}

template <typename T, int D>
KernelError LaunchTyped(const PrefillAttentionParams& p, int group, cudaStream_t stream) {
  constexpr int kBytes = SmemBytes<T, D>();
  static const cudaError_t attr_err = cudaFuncSetAttribute(
      PrefillAttentionKernel<T, D>, cudaFuncAttributeMaxDynamicSharedMemorySize, kBytes);
  if (attr_err != cudaSuccess) return static_cast<KernelError>(attr_err);
  const dim3 grid(p.num_tiles, p.num_heads);
  PrefillAttentionKernel<T, D><<<grid, kThreads, kBytes, stream>>>(p, group);
  return LastLaunchError();
}

}  // namespace

bool PrefillAttentionSupports(int head_dim) { return head_dim == 64 || head_dim == 128; }

KernelError LaunchPrefillAttention(DataType dtype, const PrefillAttentionParams& p,
                                   StreamHandle stream) {
  if (p.num_tiles == 0) return kKernelOk;
  if (p.kv.num_kv_heads <= 0 || p.num_heads % p.kv.num_kv_heads != 0 ||
      !PrefillAttentionSupports(p.head_dim) || p.kv.block_size <= 0) {
    return kKernelInvalidValue;
  }
  const int group = p.num_heads / p.kv.num_kv_heads;
  return CORVID_DISPATCH_HALF(dtype, T, [&] {
    return p.head_dim == 64 ? LaunchTyped<T, 64>(p, group, AsStream(stream))
                            : LaunchTyped<T, 128>(p, group, AsStream(stream));
  });
}

}  // namespace corvid::kernels
