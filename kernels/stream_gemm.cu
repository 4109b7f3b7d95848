// Weight-streaming tensor-core GEMM for decode batches (see stream_gemm.h).
//
// A block of W warps owns 16 * W weight rows; each warp computes its 16 rows (the A operand
// of mma.sync m16n8k16) against every activation row (the B operand, 8 per tile). k is walked
// in stages of KC values: a stage holds the block's weight rows and the activation rows over
// those KC values, copied by cp.async into a ring of S stages, so S - 1 stages of weights are
// always in flight. Activation rows past m are zero and their output columns are dropped.
#include <cuda_runtime.h>

#include "kernels/mma_utils.cuh"
#include "kernels/pdl.cuh"
#include "kernels/stream_copy.cuh"
#include "kernels/stream_gemm.h"

namespace corvid::kernels {
namespace {

struct Config {
  int warps, kc, stages;
  const char* name;
};
// Fewer warps per block spread a small n over more SMs (at m = 1 the work is the weight rows);
// more warps share one copy of the activation rows (at larger m that traffic grows).
constexpr Config kConfigs[] = {
    {1, 128, 6, "stream:W1/K128/S6"},
    {2, 128, 6, "stream:W2/K128/S6"},
    {4, 128, 4, "stream:W4/K128/S4"},
};
constexpr int kNumConfigs = sizeof(kConfigs) / sizeof(kConfigs[0]);

// Row stride in elements: 16 bytes of padding make the 8 rows an ldmatrix reads fall in
// different banks.
__host__ __device__ constexpr int Stride(int kc) { return kc + 8; }

constexpr size_t SmemBytes(int warps, int kc, int stages, int mt) {
  return static_cast<size_t>(stages) * (16 * warps + 8 * mt) * Stride(kc) * 2;
}

// Activation-row tiles of 8 that cover m rows (1, 2, 4, 8 or 16).
int RowTiles(int m) {
  int mt = 1;
  while (mt * 8 < m) mt *= 2;
  return mt;
}

template <typename T, int kWarps, int kKc, int kStages, int kMt>
struct Ring {
  static constexpr int kS = Stride(kKc);
  static constexpr int kWRows = 16 * kWarps, kXRows = 8 * kMt;
  static constexpr int kStageElems = (kWRows + kXRows) * kS;
  static constexpr int kThreads = kWarps * 32;
  static constexpr int kChunks = kKc / 8;  // 16-byte chunks of a row in one stage

  T* smem;
  int tid, n0, m, n, k;

  __device__ T* Weights(int stage) const { return smem + (stage % kStages) * kStageElems; }
  __device__ T* Acts(int stage) const { return Weights(stage) + kWRows * kS; }

  __device__ void LoadActs(const T* x, int lda, int stage) const {
    T* dst = Acts(stage);
    const int k0 = stage * kKc;
    for (int idx = tid; idx < m * kChunks; idx += kThreads) {
      const int r = idx / kChunks, c = idx % kChunks;
      const int col = k0 + c * 8;
      const bool ok = col < k;
      CpAsync16(dst + r * kS + c * 8, ok ? x + static_cast<int64_t>(r) * lda + col : x,
                ok ? 16 : 0);
    }
  }

  // Activation rows m.. of every stage: never loaded, so zeroed once.
  __device__ void ZeroUnusedActs() const {
    const int rows = kXRows - m;
    for (int idx = tid; idx < kStages * rows * kChunks; idx += kThreads) {
      const int s = idx / (rows * kChunks), rem = idx % (rows * kChunks);
      const int r = m + rem / kChunks, c = rem % kChunks;
      *reinterpret_cast<uint4*>(Acts(s) + r * kS + c * 8) = make_uint4(0, 0, 0, 0);
    }
  }
};

// kSteps steps of 16 k values of one stage, in increasing k, for every activation-row tile:
// the fragments of every step are loaded before the first mma, so the only serial chain is
// the accumulation itself (which must stay in this order: see stream_gemm.h).
template <typename T, int kSteps, int kS, int kMt>
__device__ __forceinline__ void StageMma(float (&acc)[kMt][4], const T* sw, const T* sx,
                                         int lane, int m) {
  uint32_t a[kSteps][4];
#pragma unroll
  for (int kk = 0; kk < kSteps; ++kk) {
    LdMatrixX4(a[kk], sw + (lane & 15) * kS + kk * 16 + (lane >> 4) * 8);
  }
  if constexpr (kMt == 1) {
    uint32_t b[kSteps][2];
#pragma unroll
    for (int kk = 0; kk < kSteps; ++kk) {
      LdMatrixX2(b[kk], sx + (lane & 7) * kS + kk * 16 + ((lane >> 3) & 1) * 8);
    }
#pragma unroll
    for (int kk = 0; kk < kSteps; ++kk) Mma16816<T>(acc[0], a[kk], b[kk][0], b[kk][1]);
  } else {
#pragma unroll
    for (int mt = 0; mt < kMt; mt += 2) {
      if (mt * 8 < m) {  // a tile pair past m would only multiply zeros
        uint32_t b[kSteps][4];
#pragma unroll
        for (int kk = 0; kk < kSteps; ++kk) {
          LdMatrixX4(b[kk], sx + (mt * 8 + ((lane >> 4) << 3) + (lane & 7)) * kS + kk * 16 +
                                ((lane >> 3) & 1) * 8);
        }
#pragma unroll
        for (int kk = 0; kk < kSteps; ++kk) {
          Mma16816<T>(acc[mt], a[kk], b[kk][0], b[kk][1]);
          Mma16816<T>(acc[mt + 1], a[kk], b[kk][2], b[kk][3]);
        }
      }
    }
  }
}

template <typename T, bool kF32Out, int kWarps, int kKc, int kStages, int kMt>
__global__ void __launch_bounds__(kWarps * 32)
    StreamGemmKernel(const T* __restrict__ x, int lda, const T* __restrict__ w, int ldw,
                     void* __restrict__ y, int m, int n, int k) {
  using R = Ring<T, kWarps, kKc, kStages, kMt>;
  constexpr int kS = R::kS;
  extern __shared__ __align__(16) unsigned char smem_raw[];
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const R ring{reinterpret_cast<T*>(smem_raw), tid, static_cast<int>(blockIdx.x) * R::kWRows,
               m, n, k};
  const WeightCopier<T, R::kWRows, R::kThreads, kKc, kS> wcopy(w, ldw, ring.n0, n,
                                                               ring.Weights(0), tid);
  constexpr uint32_t kStageBytes = R::kStageElems * sizeof(T);
  const int num_stages = (k + kKc - 1) / kKc;

  // Weights do not depend on the kernel before this one: their first stages are requested
  // before waiting for it; the activation rows only after (pdl.cuh).
  ring.ZeroUnusedActs();
#pragma unroll
  for (int s = 0; s < kStages - 1; ++s) {
    if (s < num_stages) wcopy.Issue(s * kStageBytes, s * kKc, k);
    CpAsyncCommit();
  }
  WaitForPrimary();
#pragma unroll
  for (int s = 0; s < kStages - 1; ++s) {
    if (s < num_stages) ring.LoadActs(x, lda, s);
  }
  CpAsyncCommit();

  float acc[kMt][4];
#pragma unroll
  for (int i = 0; i < kMt; ++i) acc[i][0] = acc[i][1] = acc[i][2] = acc[i][3] = 0.0f;
  for (int s = 0; s < num_stages; ++s) {
    // Stage s has landed: at s = 0 with everything of the prologue, later S - 2 groups behind.
    if (s == 0) {
      CpAsyncWait<0>();
    } else {
      CpAsyncWait<kStages - 2>();
    }
    __syncthreads();  // also: every warp is done with the buffer refilled next
    const int next = s + kStages - 1;
    if (next < num_stages) {
      wcopy.Issue((next % kStages) * kStageBytes, next * kKc, k);
      ring.LoadActs(x, lda, next);
    }
    CpAsyncCommit();
    const T* sw = ring.Weights(s) + warp * 16 * kS;
    const T* sx = ring.Acts(s);
    if (s * kKc + kKc <= k) {
      StageMma<T, kKc / 16, kS, kMt>(acc, sw, sx, lane, m);
    } else {  // the last stage of a k that is not a multiple of the stage
      for (int kk = 0; kk < (k - s * kKc) / 16; ++kk) {
        StageMma<T, 1, kS, kMt>(acc, sw + kk * 16, sx + kk * 16, lane, m);
      }
    }
  }
  TriggerDependents();  // the next kernel waits for this grid's stores anyway

  // acc[mt]: rows g and g + 8 of the warp's 16 weight rows, activation rows 2q and 2q + 1.
  const int g = lane >> 2, q = lane & 3;
#pragma unroll
  for (int mt = 0; mt < kMt; ++mt) {
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const int f = ring.n0 + warp * 16 + g + (e >> 1) * 8;
      const int t = mt * 8 + 2 * q + (e & 1);
      if (f >= n || t >= m) continue;
      const int64_t idx = static_cast<int64_t>(t) * n + f;
      if constexpr (kF32Out) {
        static_cast<float*>(y)[idx] = acc[mt][e];
      } else {
        static_cast<T*>(y)[idx] = FromFloat<T>(acc[mt][e]);
      }
    }
  }
}

template <typename T, bool kF32Out, int kWarps, int kKc, int kStages, int kMt>
KernelError LaunchOne(const T* x, int lda, const T* w, int ldw, void* y, int m, int n, int k,
                      cudaStream_t stream) {
  constexpr auto kernel = StreamGemmKernel<T, kF32Out, kWarps, kKc, kStages, kMt>;
  constexpr size_t kBytes = SmemBytes(kWarps, kKc, kStages, kMt);
  static const cudaError_t attr =
      cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kBytes);
  if (attr != cudaSuccess) return static_cast<KernelError>(attr);
  const int blocks = (n + 16 * kWarps - 1) / (16 * kWarps);
  return LaunchPdl(kernel, dim3(blocks), dim3(kWarps * 32), kBytes, stream, x, lda, w, ldw, y, m,
                   n, k);
}

template <typename T, bool kF32Out, int kC>
KernelError LaunchConfig(const T* x, int lda, const T* w, int ldw, void* y, int m, int n, int k,
                         cudaStream_t s) {
  constexpr int W = kConfigs[kC].warps, KC = kConfigs[kC].kc, S = kConfigs[kC].stages;
  switch (RowTiles(m)) {
    case 1: return LaunchOne<T, kF32Out, W, KC, S, 1>(x, lda, w, ldw, y, m, n, k, s);
    case 2: return LaunchOne<T, kF32Out, W, KC, S, 2>(x, lda, w, ldw, y, m, n, k, s);
    case 4: return LaunchOne<T, kF32Out, W, KC, S, 4>(x, lda, w, ldw, y, m, n, k, s);
    case 8: return LaunchOne<T, kF32Out, W, KC, S, 8>(x, lda, w, ldw, y, m, n, k, s);
    default: return LaunchOne<T, kF32Out, W, KC, S, 16>(x, lda, w, ldw, y, m, n, k, s);
  }
}

template <typename T, bool kF32Out>
KernelError LaunchTyped(int config, const T* x, int lda, const T* w, int ldw, void* y, int m,
                        int n, int k, cudaStream_t s) {
  static_assert(kNumConfigs == 3, "one case per configuration");
  switch (config) {
    case 0: return LaunchConfig<T, kF32Out, 0>(x, lda, w, ldw, y, m, n, k, s);
    case 1: return LaunchConfig<T, kF32Out, 1>(x, lda, w, ldw, y, m, n, k, s);
    default: return LaunchConfig<T, kF32Out, 2>(x, lda, w, ldw, y, m, n, k, s);
  }
}

// Opt-in shared memory per block of the current device (read once per process).
size_t MaxSmemPerBlock() {
  static const size_t bytes = [] {
    int device = 0, value = 0;
    if (cudaGetDevice(&device) != cudaSuccess ||
        cudaDeviceGetAttribute(&value, cudaDevAttrMaxSharedMemoryPerBlockOptin, device) !=
            cudaSuccess) {
      cudaGetLastError();
      return size_t{0};
    }
    return static_cast<size_t>(value);
  }();
  return bytes;
}

}  // namespace

int NumStreamGemmConfigs() { return kNumConfigs; }

const char* StreamGemmConfigName(int config) {
  return config >= 0 && config < kNumConfigs ? kConfigs[config].name : "stream:?";
}

bool StreamGemmSupports(int config, int m, int k, int lda, int ldw) {
  if (config < 0 || config >= kNumConfigs || m < 1 || m > kStreamGemmMaxRows || k < 16 ||
      k % 16 != 0 || lda % 8 != 0 || ldw % 8 != 0) {
    return false;
  }
  const Config& c = kConfigs[config];
  return SmemBytes(c.warps, c.kc, c.stages, RowTiles(m)) <= MaxSmemPerBlock();
}

KernelError LaunchStreamGemm(int config, DataType dtype, const void* x, int lda, const void* w,
                             int ldw, void* y, bool y_is_f32, int m, int n, int k,
                             StreamHandle stream) {
  if (n == 0) return kKernelOk;
  if (n < 0 || !StreamGemmSupports(config, m, k, lda, ldw)) return kKernelInvalidValue;
  return CORVID_DISPATCH_HALF(dtype, T, [&] {
    const T* xt = static_cast<const T*>(x);
    const T* wt = static_cast<const T*>(w);
    return y_is_f32 ? LaunchTyped<T, true>(config, xt, lda, wt, ldw, y, m, n, k, AsStream(stream))
                    : LaunchTyped<T, false>(config, xt, lda, wt, ldw, y, m, n, k,
                                            AsStream(stream));
  });
}

}  // namespace corvid::kernels
