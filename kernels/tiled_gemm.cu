// Multistage cp.async + ldmatrix + mma.sync GEMM (see tiled_gemm.h). A block computes a BM x BN
// tile; its warps are laid out WM x WN, each owning (BM/WM) x (BN/WN). K is walked in BK-wide
// stages kept STAGES deep in shared memory (rows padded by 16 bytes: ldmatrix conflict-free).
#include "kernels/mma_utils.cuh"
#include "kernels/tiled_gemm.h"

namespace corvid::kernels {
namespace {

template <int BM_, int BN_, int BK_, int WM_, int WN_, int STAGES_>
struct Cfg {
  static constexpr int BM = BM_, BN = BN_, BK = BK_, WM = WM_, WN = WN_, STAGES = STAGES_;
  static constexpr int kThreads = WM * WN * 32;
  static constexpr int kStride = BK + 8;
  static constexpr int WTM = BM / WM, WTN = BN / WN;
  static constexpr int FM = WTM / 16, FN = WTN / 8;
  static_assert(WTM % 16 == 0 && WTN % 16 == 0, "warp tile must be a multiple of 16x16");
  static constexpr int kSmemBytes = STAGES * (BM + BN) * kStride * 2;
};

template <typename C>
__device__ __forceinline__ void LoadStage(const uint16_t* a, int lda, const uint16_t* b, int ldb,
                                          uint16_t* s_a, uint16_t* s_b, int m0, int n0, int k0,
                                          int m, int n, int k) {
  // Rows past m (or n) are not loaded at all: their stale contents only reach output rows
  // (columns) that are never stored, because an mma row depends on its own A row alone. Past k,
  // valid rows are zero-filled on both sides so that no stale value meets a real one.
  constexpr int kChunks = C::BK / 8;
  const int a_rows = min(C::BM, m - m0), b_rows = min(C::BN, n - n0);
  for (int idx = threadIdx.x; idx < a_rows * kChunks; idx += C::kThreads) {
    const int r = idx / kChunks, c = idx % kChunks;
    const int gk = k0 + c * 8;
    const bool ok = gk < k;
    CpAsync16(s_a + r * C::kStride + c * 8,
              ok ? a + static_cast<int64_t>(m0 + r) * lda + gk : a, ok ? 16 : 0);
  }
  for (int idx = threadIdx.x; idx < b_rows * kChunks; idx += C::kThreads) {
    const int r = idx / kChunks, c = idx % kChunks;
    const int gk = k0 + c * 8;
    const bool ok = gk < k;
    CpAsync16(s_b + r * C::kStride + c * 8,
              ok ? b + static_cast<int64_t>(n0 + r) * ldb + gk : b, ok ? 16 : 0);
  }
}

template <typename T, bool kF32Out, typename C>
__global__ void __launch_bounds__(C::kThreads)
    TiledGemmKernel(const uint16_t* __restrict__ a, int lda, const uint16_t* __restrict__ b,
                    int ldb, void* __restrict__ out, int m, int n, int k) {
  extern __shared__ __align__(16) unsigned char smem_raw[];
  uint16_t* s_a = reinterpret_cast<uint16_t*>(smem_raw);
  uint16_t* s_b = s_a + C::STAGES * C::BM * C::kStride;
  const int m0 = blockIdx.y * C::BM, n0 = blockIdx.x * C::BN;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int wm = warp / C::WN, wn = warp % C::WN;
  const int mi = lane >> 3, mr = lane & 7;
  const int num_k_tiles = (k + C::BK - 1) / C::BK;

  float acc[C::FM][C::FN][4];
#pragma unroll
  for (int i = 0; i < C::FM; ++i) {
#pragma unroll
    for (int j = 0; j < C::FN; ++j) acc[i][j][0] = acc[i][j][1] = acc[i][j][2] = acc[i][j][3] = 0.0f;
  }

#pragma unroll
  for (int s = 0; s < C::STAGES - 1; ++s) {
    if (s < num_k_tiles) {
      LoadStage<C>(a, lda, b, ldb, s_a + s * C::BM * C::kStride, s_b + s * C::BN * C::kStride,
                   m0, n0, s * C::BK, m, n, k);
    }
    CpAsyncCommit();
  }

  for (int kt = 0; kt < num_k_tiles; ++kt) {
    CpAsyncWait<C::STAGES - 2>();
    __syncthreads();  // stage kt landed for everyone; stage kt - 1 is free to refill
    const int next = kt + C::STAGES - 1;
    if (next < num_k_tiles) {
      const int s = next % C::STAGES;
      LoadStage<C>(a, lda, b, ldb, s_a + s * C::BM * C::kStride, s_b + s * C::BN * C::kStride,
                   m0, n0, next * C::BK, m, n, k);
    }
    CpAsyncCommit();
    const uint16_t* ta = s_a + (kt % C::STAGES) * C::BM * C::kStride;
    const uint16_t* tb = s_b + (kt % C::STAGES) * C::BN * C::kStride;
#pragma unroll
    for (int kk = 0; kk < C::BK / 16; ++kk) {
      uint32_t af[C::FM][4];
#pragma unroll
      for (int i = 0; i < C::FM; ++i) {
        LdMatrixX4(af[i], ta + (wm * C::WTM + i * 16 + (mi & 1) * 8 + mr) * C::kStride +
                              kk * 16 + (mi >> 1) * 8);
      }
#pragma unroll
      for (int j = 0; j < C::FN; j += 2) {
        uint32_t bf[4];
        LdMatrixX4(bf, tb + (wn * C::WTN + j * 8 + (mi >> 1) * 8 + mr) * C::kStride + kk * 16 +
                           (mi & 1) * 8);
#pragma unroll
        for (int i = 0; i < C::FM; ++i) {
          Mma16816<T>(acc[i][j], af[i], bf[0], bf[1]);
          Mma16816<T>(acc[i][j + 1], af[i], bf[2], bf[3]);
        }
      }
    }
  }
  CpAsyncWait<0>();

  const int row_base = m0 + wm * C::WTM + (lane >> 2);
  const int col_base = n0 + wn * C::WTN + (lane & 3) * 2;
#pragma unroll
  for (int i = 0; i < C::FM; ++i) {
#pragma unroll
    for (int j = 0; j < C::FN; ++j) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int row = row_base + i * 16 + (e >> 1) * 8;
        const int col = col_base + j * 8 + (e & 1);
        if (row >= m || col >= n) continue;
        StoreOut<T, kF32Out>(out, static_cast<int64_t>(row) * n + col, acc[i][j][e]);
      }
    }
  }
}

// The configurations the autotuner chooses from: small-M ones stream the weights with deep
// K stages and narrow N tiles (enough blocks to fill the GPU); large-M ones are compute tiles.
using Cfg0 = Cfg<16, 16, 256, 1, 1, 4>;
using Cfg1 = Cfg<16, 32, 128, 1, 2, 4>;
using Cfg2 = Cfg<16, 64, 128, 1, 4, 3>;
using Cfg3 = Cfg<32, 32, 128, 2, 2, 4>;
using Cfg4 = Cfg<64, 64, 64, 2, 2, 4>;
using Cfg5 = Cfg<128, 64, 32, 4, 2, 4>;
using Cfg6 = Cfg<128, 128, 32, 2, 4, 4>;
using Cfg7 = Cfg<64, 128, 32, 2, 4, 4>;
// Longer K stages (512-byte row segments per stage stream better), and 64x64 warp tiles
// (more mma per ldmatrix) for prefill.
using Cfg8 = Cfg<16, 32, 256, 1, 2, 3>;
using Cfg9 = Cfg<32, 32, 256, 2, 2, 3>;
using Cfg10 = Cfg<64, 32, 128, 4, 1, 4>;
using Cfg11 = Cfg<64, 64, 128, 2, 2, 3>;
using Cfg12 = Cfg<128, 128, 64, 2, 2, 3>;
using Cfg13 = Cfg<128, 256, 64, 2, 4, 3>;

constexpr const char* kConfigNames[] = {
    "16x16x256/1w/4s",  "16x32x128/2w/4s",  "16x64x128/4w/3s",  "32x32x128/4w/4s",
    "64x64x64/4w/4s",   "128x64x32/8w/4s",  "128x128x32/8w/4s", "64x128x32/8w/4s",
    "16x32x256/2w/3s",  "32x32x256/4w/3s",  "64x32x128/4w/4s",  "64x64x128/4w/3s",
    "128x128x64/4w/3s", "128x256x64/8w/3s"};
constexpr int kConfigRows[] = {16, 16, 16, 32, 64, 128, 128, 64, 16, 32, 64, 64, 128, 128};
constexpr int kNumConfigs = 14;

template <typename T, bool kF32Out, typename C>
KernelError LaunchConfig(const void* a, int lda, const void* b, int ldb, void* c, int m, int n,
                         int k, cudaStream_t stream) {
  static const cudaError_t attr = cudaFuncSetAttribute(
      TiledGemmKernel<T, kF32Out, C>, cudaFuncAttributeMaxDynamicSharedMemorySize,
      C::kSmemBytes);
  if (attr != cudaSuccess) return static_cast<KernelError>(attr);
  const dim3 grid((n + C::BN - 1) / C::BN, (m + C::BM - 1) / C::BM);
  if (grid.y > 65535) return kKernelInvalidValue;
  TiledGemmKernel<T, kF32Out, C><<<grid, C::kThreads, C::kSmemBytes, stream>>>(
      static_cast<const uint16_t*>(a), lda, static_cast<const uint16_t*>(b), ldb, c, m, n, k);
  return LastLaunchError();
}

template <typename T, bool kF32Out>
KernelError LaunchTyped(int config, const void* a, int lda, const void* b, int ldb, void* c,
                        int m, int n, int k, cudaStream_t s) {
  switch (config) {
    case 0: return LaunchConfig<T, kF32Out, Cfg0>(a, lda, b, ldb, c, m, n, k, s);
    case 1: return LaunchConfig<T, kF32Out, Cfg1>(a, lda, b, ldb, c, m, n, k, s);
    case 2: return LaunchConfig<T, kF32Out, Cfg2>(a, lda, b, ldb, c, m, n, k, s);
    case 3: return LaunchConfig<T, kF32Out, Cfg3>(a, lda, b, ldb, c, m, n, k, s);
    case 4: return LaunchConfig<T, kF32Out, Cfg4>(a, lda, b, ldb, c, m, n, k, s);
    case 5: return LaunchConfig<T, kF32Out, Cfg5>(a, lda, b, ldb, c, m, n, k, s);
    case 6: return LaunchConfig<T, kF32Out, Cfg6>(a, lda, b, ldb, c, m, n, k, s);
    case 7: return LaunchConfig<T, kF32Out, Cfg7>(a, lda, b, ldb, c, m, n, k, s);
    case 8: return LaunchConfig<T, kF32Out, Cfg8>(a, lda, b, ldb, c, m, n, k, s);
    case 9: return LaunchConfig<T, kF32Out, Cfg9>(a, lda, b, ldb, c, m, n, k, s);
    case 10: return LaunchConfig<T, kF32Out, Cfg10>(a, lda, b, ldb, c, m, n, k, s);
    case 11: return LaunchConfig<T, kF32Out, Cfg11>(a, lda, b, ldb, c, m, n, k, s);
    case 12: return LaunchConfig<T, kF32Out, Cfg12>(a, lda, b, ldb, c, m, n, k, s);
    case 13: return LaunchConfig<T, kF32Out, Cfg13>(a, lda, b, ldb, c, m, n, k, s);
    default: return kKernelInvalidValue;
  }
}

}  // namespace

int NumTiledGemmConfigs() { return kNumConfigs; }

const char* TiledGemmConfigName(int config) {
  return (config >= 0 && config < kNumConfigs) ? kConfigNames[config] : "invalid";
}

int TiledGemmTileRows(int config) {
  return (config >= 0 && config < kNumConfigs) ? kConfigRows[config] : 0;
}

KernelError LaunchTiledGemm(int config, DataType dtype, const void* a, int lda, const void* b,
                            int ldb, void* c, bool c_is_f32, int m, int n, int k,
                            StreamHandle stream) {
  if (m == 0 || n == 0) return kKernelOk;
  if (m < 0 || n < 0 || k <= 0 || k % 8 != 0 || lda % 8 != 0 || ldb % 8 != 0 || lda < k ||
      ldb < k) {
    return kKernelInvalidValue;
  }
  return CORVID_DISPATCH_HALF(dtype, T, [&] {
    return c_is_f32 ? LaunchTyped<T, true>(config, a, lda, b, ldb, c, m, n, k, AsStream(stream))
                    : LaunchTyped<T, false>(config, a, lda, b, ldb, c, m, n, k, AsStream(stream));
  });
}

}  // namespace corvid::kernels
