// Weight-streaming GEMM for 1..8 rows (see skinny_gemm.h). Decode at small batch is a pass
// over the weights, so each warp streams two weight rows with 16-byte loads that skip L1,
// several in flight per thread, while the few activation rows come from L1/L2.
#include "kernels/cuda_utils.cuh"
#include "kernels/skinny_gemm.h"

namespace corvid::kernels {
namespace {

constexpr int kWarps = 8;
constexpr int kRowsPerWarp = 2;
constexpr int kUnroll = 4;

template <typename T, bool kF32Out, int kMaxM>
__global__ void __launch_bounds__(kWarps * 32)
    SkinnyGemmKernel(const T* __restrict__ x, const T* __restrict__ w, void* __restrict__ y,
                     int m, int n, int k) {
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int n0 = (blockIdx.x * kWarps + warp) * kRowsPerWarp;
  if (n0 >= n) return;
  const T* wr[kRowsPerWarp];
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
    wr[r] = w + static_cast<int64_t>(min(n0 + r, n - 1)) * k;  // a clamped row is not written
  }
  float acc[kRowsPerWarp][kMaxM];
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
#pragma unroll
    for (int i = 0; i < kMaxM; ++i) acc[r][i] = 0.0f;
  }
  for (int k0 = lane * 8; k0 < k; k0 += 256 * kUnroll) {
    uint4 wv[kRowsPerWarp][kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
#pragma unroll
      for (int r = 0; r < kRowsPerWarp; ++r) {
        wv[r][u] = (k0 + u * 256 < k) ? LoadStreaming(wr[r] + k0 + u * 256)
                                       : make_uint4(0, 0, 0, 0);
      }
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int kk = k0 + u * 256;
      if (kk >= k) break;
      float wf[kRowsPerWarp][8];
#pragma unroll
      for (int r = 0; r < kRowsPerWarp; ++r) Unpack8<T>(wv[r][u], wf[r]);
#pragma unroll
      for (int i = 0; i < kMaxM; ++i) {
        if (i >= m) break;
        float xf[8];
        Unpack8<T>(__ldg(reinterpret_cast<const uint4*>(x + static_cast<int64_t>(i) * k + kk)),
                   xf);
#pragma unroll
        for (int r = 0; r < kRowsPerWarp; ++r) {
#pragma unroll
          for (int e = 0; e < 8; ++e) acc[r][i] = fmaf(wf[r][e], xf[e], acc[r][i]);
        }
      }
    }
  }
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
#pragma unroll
    for (int i = 0; i < kMaxM; ++i) acc[r][i] = WarpSum(acc[r][i]);
  }
  if (lane != 0) return;
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
    if (n0 + r >= n) break;
#pragma unroll
    for (int i = 0; i < kMaxM; ++i) {
      if (i >= m) break;
      const int64_t idx = static_cast<int64_t>(i) * n + n0 + r;
      if (kF32Out) {
        static_cast<float*>(y)[idx] = acc[r][i];
      } else {
        static_cast<T*>(y)[idx] = FromFloat<T>(acc[r][i]);
      }
    }
  }
}

template <typename T, bool kF32Out>
KernelError LaunchTyped(const T* x, const T* w, void* y, int m, int n, int k,
                        cudaStream_t stream) {
  const int rows_per_block = kWarps * kRowsPerWarp;
  const int blocks = (n + rows_per_block - 1) / rows_per_block;
  const int threads = kWarps * 32;
  if (m == 1) {
    SkinnyGemmKernel<T, kF32Out, 1><<<blocks, threads, 0, stream>>>(x, w, y, m, n, k);
  } else if (m == 2) {
    SkinnyGemmKernel<T, kF32Out, 2><<<blocks, threads, 0, stream>>>(x, w, y, m, n, k);
  } else if (m <= 4) {
    SkinnyGemmKernel<T, kF32Out, 4><<<blocks, threads, 0, stream>>>(x, w, y, m, n, k);
  } else {
    SkinnyGemmKernel<T, kF32Out, 8><<<blocks, threads, 0, stream>>>(x, w, y, m, n, k);
  }
  return LastLaunchError();
}

}  // namespace

bool SkinnyGemmSupports(int m, int k) {
  return m >= 1 && m <= kSkinnyGemmMaxRows && k > 0 && k % 8 == 0;
}

KernelError LaunchSkinnyGemm(DataType dtype, const void* x, const void* w, void* y,
                             bool y_is_f32, int m, int n, int k, StreamHandle stream) {
  if (n == 0) return kKernelOk;
  if (!SkinnyGemmSupports(m, k) || n < 0) return kKernelInvalidValue;
  return CORVID_DISPATCH_HALF(dtype, T, [&] {
    const T* xt = static_cast<const T*>(x);
    const T* wt = static_cast<const T*>(w);
    return y_is_f32 ? LaunchTyped<T, true>(xt, wt, y, m, n, k, AsStream(stream))
                    : LaunchTyped<T, false>(xt, wt, y, m, n, k, AsStream(stream));
  });
}

}  // namespace corvid::kernels
