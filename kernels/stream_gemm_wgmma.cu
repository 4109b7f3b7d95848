// Weight-streaming GEMM on Hopper's warpgroup MMA (see stream_gemm_wgmma.h, stream_gemm.h).
//
// Why a second kernel: with mma.sync every k step of an output element waits for the previous
// one's result in registers, and at decode sizes a warp's chain of k / 16 dependent mma.sync
// (~120 cycles each on the H100) is longer than streaming its weights takes. wgmma chains into
// one accumulator inside the tensor core, so a stage's steps issue back to back.
//
// One warpgroup per block owns 64 weight rows (wgmma M); warp w's 16 rows are its A operand,
// loaded by ldmatrix into registers (the same fragments as mma.sync). The activation rows (up
// to 32, padded to 8, 16 or 32 with zeros) are the B operand, read by the tensor core from
// shared memory laid out as 8x16-byte core matrices (no swizzle). k is walked in stages through
// a cp.async ring as in stream_gemm.cu; the weights of the first stages are requested before
// the wait on the kernel before (pdl.cuh).
#include <cuda_runtime.h>

#include <type_traits>

#include "kernels/mma_utils.cuh"
#include "kernels/pdl.cuh"
#include "kernels/stream_copy.cuh"
#include "kernels/stream_gemm_wgmma.h"

namespace corvid::kernels::stream_wgmma {
namespace {

struct Config {
  int kc, stages;
  const char* name;
};
constexpr Config kConfigs[] = {
    {128, 4, "wgmma:K128/S4"}, {128, 6, "wgmma:K128/S6"},
    {64, 8, "wgmma:K64/S8"},   {64, 12, "wgmma:K64/S12"},
};
constexpr int kNumConfigs = sizeof(kConfigs) / sizeof(kConfigs[0]);

constexpr int kRows = 64;  // weight rows per block: wgmma's M
constexpr int kThreads = 128;

__host__ __device__ constexpr int WStride(int kc) { return kc + 8; }  // ldmatrix: no conflicts
constexpr size_t SmemBytes(int kc, int stages, int nt) {
  return static_cast<size_t>(stages) * (kRows * WStride(kc) + nt * kc) * 2;
}
int RowTile(int m) { return m <= 8 ? 8 : m <= 16 ? 16 : 32; }

}  // namespace

// Device building blocks (a named namespace: the host pass of nvcc sees them unused).
namespace device {

// Device code of sm_90a only (kernels/CMakeLists.txt builds this file for 90a in place of 90).
#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define CORVID_HAS_WGMMA 1
#endif

__device__ __forceinline__ void WgmmaFence() {
#ifdef CORVID_HAS_WGMMA
  asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#endif
}
__device__ __forceinline__ void WgmmaCommit() {
#ifdef CORVID_HAS_WGMMA
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
#endif
}
__device__ __forceinline__ void WgmmaWaitAll() {
#ifdef CORVID_HAS_WGMMA
  asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
#endif
}
// Shared memory written through the generic proxy (cp.async, stores) made visible to the
// tensor core's reads (async proxy).
__device__ __forceinline__ void FenceProxyAsync() {
#ifdef CORVID_HAS_WGMMA
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
#endif
}
// Keeps the compiler from touching the accumulators while a wgmma may still write them.
template <int N>
__device__ __forceinline__ void FenceAcc(float (&d)[N]) {
#pragma unroll
  for (int i = 0; i < N; ++i) asm volatile("" : "+f"(d[i])::"memory");
}

// Descriptor of a K-major, unswizzled operand: core matrices of 8 rows x 16 bytes, `lbo` bytes
// apart along k and `sbo` bytes apart along the rows.
__device__ __forceinline__ uint64_t Desc(const void* p, uint32_t lbo, uint32_t sbo) {
  return static_cast<uint64_t>((SmemAddr(p) >> 4) & 0x3FFF) |
         (static_cast<uint64_t>((lbo >> 4) & 0x3FFF) << 16) |
         (static_cast<uint64_t>((sbo >> 4) & 0x3FFF) << 32);
}

// d (64 x nt, fp32, nt / 2 per thread) += a (64 x 16, registers) * b (16 x nt, descriptor).
#define CORVID_WG_OP(TY, N) "wgmma.mma_async.sync.aligned.m64n" #N "k16.f32." TY "." TY " "
template <typename T, int kNt>
__device__ __forceinline__ void Wgmma(float (&d)[kNt / 2], const uint32_t (&a)[4], uint64_t b) {
#ifdef CORVID_HAS_WGMMA
  constexpr bool kBf16 = std::is_same_v<T, __nv_bfloat16>;
  if constexpr (kNt == 8) {
#define CORVID_WG8(TY)                                                                 \
  asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %9, 0;\n" CORVID_WG_OP(TY, 8)         \
               "{%0, %1, %2, %3}, {%4, %5, %6, %7}, %8, p, 1, 1, 0;\n}\n"              \
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])                        \
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b), "r"(1))
    if constexpr (kBf16) CORVID_WG8("bf16"); else CORVID_WG8("f16");
#undef CORVID_WG8
  } else if constexpr (kNt == 16) {
#define CORVID_WG16(TY)                                                                     \
  asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %13, 0;\n" CORVID_WG_OP(TY, 16)            \
               "{%0, %1, %2, %3, %4, %5, %6, %7}, {%8, %9, %10, %11}, %12, p, 1, 1, 0;\n}\n" \
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]),     \
                 "+f"(d[6]), "+f"(d[7])                                                      \
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b), "r"(1))
    if constexpr (kBf16) CORVID_WG16("bf16"); else CORVID_WG16("f16");
#undef CORVID_WG16
  } else {
    static_assert(kNt == 32, "activation tiles of 8, 16 or 32 rows");
#define CORVID_WG32(TY)                                                                       \
  asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %21, 0;\n" CORVID_WG_OP(TY, 32)              \
               "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15}, "     \
               "{%16, %17, %18, %19}, %20, p, 1, 1, 0;\n}\n"                                  \
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]),       \
                 "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]),     \
                 "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15])                            \
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b), "r"(1))
    if constexpr (kBf16) CORVID_WG32("bf16"); else CORVID_WG32("f16");
#undef CORVID_WG32
  }
#endif
}
#undef CORVID_WG_OP

template <typename T, int kKc, int kStages, int kNt>
struct Ring {
  static constexpr int kWs = WStride(kKc);
  static constexpr int kWElems = kRows * kWs, kStageElems = kWElems + kNt * kKc;
  static constexpr int kChunks = kKc / 8;  // 16-byte chunks of a row in one stage
  // Activation chunk (row r, chunk c) inside its stage: core matrix (c, r / 8), row r % 8.
  static __device__ int XOffset(int r, int c) {
    return ((c * (kNt / 8) + (r >> 3)) * 8 + (r & 7)) * 8;
  }

  T* smem;
  int tid, n0, m, n, k;

  __device__ T* Weights(int s) const { return smem + (s % kStages) * kStageElems; }
  __device__ T* Acts(int s) const { return Weights(s) + kWElems; }

  __device__ void LoadActs(const T* x, int lda, int s) const {
    T* dst = Acts(s);
    const int k0 = s * kKc;
    for (int idx = tid; idx < m * kChunks; idx += kThreads) {
      const int r = idx / kChunks, c = idx % kChunks;
      const int col = k0 + c * 8;
      const bool ok = col < k;
      CpAsync16(dst + XOffset(r, c), ok ? x + static_cast<int64_t>(r) * lda + col : x,
                ok ? 16 : 0);
    }
  }
  __device__ void ZeroUnusedActs() const {
    const int per_stage = (kNt - m) * kChunks;
    for (int idx = tid; idx < kStages * per_stage; idx += kThreads) {
      const int s = idx / per_stage, rem = idx % per_stage;
      *reinterpret_cast<uint4*>(Acts(s) + XOffset(m + rem / kChunks, rem % kChunks)) =
          make_uint4(0, 0, 0, 0);
    }
  }
};

// kSteps steps of 16 k values from `sw` / `sx`, issued back to back into one accumulator.
template <typename T, int kSteps, int kWs, int kNt>
__device__ __forceinline__ void StageWgmma(float (&acc)[kNt / 2], const T* sw, const T* sx,
                                           int lane) {
  uint32_t a[kSteps][4];
#pragma unroll
  for (int kk = 0; kk < kSteps; ++kk) {
    LdMatrixX4(a[kk], sw + (lane & 15) * kWs + kk * 16 + (lane >> 4) * 8);
  }
  constexpr uint32_t kLbo = (kNt / 8) * 128, kSbo = 128;
  WgmmaFence();
#pragma unroll
  for (int kk = 0; kk < kSteps; ++kk) {
    Wgmma<T, kNt>(acc, a[kk], Desc(sx + kk * 2 * (kNt / 8) * 64, kLbo, kSbo));
  }
  WgmmaCommit();
  WgmmaWaitAll();
  FenceAcc(acc);
}

}  // namespace device

namespace {
using namespace device;  // NOLINT: the kernel's own building blocks

template <typename T, bool kF32Out, int kKc, int kStages, int kNt>
__global__ void __launch_bounds__(kThreads)
    WgmmaStreamKernel(const T* __restrict__ x, int lda, const T* __restrict__ w, int ldw,
                      void* __restrict__ y, int m, int n, int k) {
#ifdef CORVID_HAS_WGMMA
  using R = Ring<T, kKc, kStages, kNt>;
  extern __shared__ __align__(128) unsigned char smem_raw[];
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const R ring{reinterpret_cast<T*>(smem_raw), tid, static_cast<int>(blockIdx.x) * kRows, m, n,
               k};
  const WeightCopier<T, kRows, kThreads, kKc, R::kWs> wcopy(w, ldw, ring.n0, n, ring.Weights(0),
                                                            tid);
  constexpr uint32_t kStageBytes = R::kStageElems * sizeof(T);
  const int num_stages = (k + kKc - 1) / kKc;

  ring.ZeroUnusedActs();
#pragma unroll
  for (int s = 0; s < kStages - 1; ++s) {
    if (s < num_stages) wcopy.Issue(s * kStageBytes, s * kKc, k);
    CpAsyncCommit();
  }
  WaitForPrimary();  // x is written by the kernel before this one
#pragma unroll
  for (int s = 0; s < kStages - 1; ++s) {
    if (s < num_stages) ring.LoadActs(x, lda, s);
  }
  CpAsyncCommit();

  float acc[kNt / 2];
#pragma unroll
  for (int i = 0; i < kNt / 2; ++i) acc[i] = 0.0f;
  for (int s = 0; s < num_stages; ++s) {
    if (s == 0) {
      CpAsyncWait<0>();
    } else {
      CpAsyncWait<kStages - 2>();
    }
    FenceProxyAsync();
    __syncthreads();  // stage s visible to every warp; the buffer refilled next is free
    const int next = s + kStages - 1;
    if (next < num_stages) {
      wcopy.Issue((next % kStages) * kStageBytes, next * kKc, k);
      ring.LoadActs(x, lda, next);
    }
    CpAsyncCommit();
    const T* sw = ring.Weights(s) + warp * 16 * R::kWs;
    const T* sx = ring.Acts(s);
    if (s * kKc + kKc <= k) {
      StageWgmma<T, kKc / 16, R::kWs, kNt>(acc, sw, sx, lane);
    } else {  // the last stage of a k that is not a multiple of the stage
      for (int kk = 0; kk < (k - s * kKc) / 16; ++kk) {
        StageWgmma<T, 1, R::kWs, kNt>(acc, sw + kk * 16, sx + kk * 2 * (kNt / 8) * 64, lane);
      }
    }
  }
  TriggerDependents();

  // acc[4j + e]: weight row g (+8 for e >= 2) of the warp's 16, activation row 8j + 2q (+1).
  const int g = lane >> 2, q = lane & 3;
#pragma unroll
  for (int j = 0; j < kNt / 8; ++j) {
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const int f = ring.n0 + warp * 16 + g + (e >> 1) * 8;
      const int t = j * 8 + 2 * q + (e & 1);
      if (f >= n || t >= m) continue;
      const int64_t idx = static_cast<int64_t>(t) * n + f;
      if constexpr (kF32Out) {
        static_cast<float*>(y)[idx] = acc[4 * j + e];
      } else {
        static_cast<T*>(y)[idx] = FromFloat<T>(acc[4 * j + e]);
      }
    }
  }
#endif
}

template <typename T, bool kF32Out, int kKc, int kStages, int kNt>
KernelError LaunchOne(const T* x, int lda, const T* w, int ldw, void* y, int m, int n, int k,
                      cudaStream_t stream) {
  constexpr auto kernel = WgmmaStreamKernel<T, kF32Out, kKc, kStages, kNt>;
  constexpr size_t kBytes = SmemBytes(kKc, kStages, kNt);
  static const cudaError_t attr =
      cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kBytes);
  if (attr != cudaSuccess) return static_cast<KernelError>(attr);
  return LaunchPdl(kernel, dim3((n + kRows - 1) / kRows), dim3(kThreads), kBytes, stream, x, lda,
                   w, ldw, y, m, n, k);
}

template <typename T, bool kF32Out, int kC>
KernelError LaunchConfig(const T* x, int lda, const T* w, int ldw, void* y, int m, int n, int k,
                         cudaStream_t s) {
  constexpr int KC = kConfigs[kC].kc, S = kConfigs[kC].stages;
  switch (RowTile(m)) {
    case 8: return LaunchOne<T, kF32Out, KC, S, 8>(x, lda, w, ldw, y, m, n, k, s);
    case 16: return LaunchOne<T, kF32Out, KC, S, 16>(x, lda, w, ldw, y, m, n, k, s);
    default: return LaunchOne<T, kF32Out, KC, S, 32>(x, lda, w, ldw, y, m, n, k, s);
  }
}

template <typename T, bool kF32Out>
KernelError LaunchTyped(int config, const T* x, int lda, const T* w, int ldw, void* y, int m,
                        int n, int k, cudaStream_t s) {
  static_assert(kNumConfigs == 4, "one case per configuration");
  switch (config) {
    case 0: return LaunchConfig<T, kF32Out, 0>(x, lda, w, ldw, y, m, n, k, s);
    case 1: return LaunchConfig<T, kF32Out, 1>(x, lda, w, ldw, y, m, n, k, s);
    case 2: return LaunchConfig<T, kF32Out, 2>(x, lda, w, ldw, y, m, n, k, s);
    default: return LaunchConfig<T, kF32Out, 3>(x, lda, w, ldw, y, m, n, k, s);
  }
}

struct DeviceLimits {
  int major = 0;
  size_t smem = 0;
};
const DeviceLimits& Limits() {
  static const DeviceLimits limits = [] {
    DeviceLimits l;
    int device = 0, value = 0;
    if (cudaGetDevice(&device) == cudaSuccess &&
        cudaDeviceGetAttribute(&l.major, cudaDevAttrComputeCapabilityMajor, device) ==
            cudaSuccess &&
        cudaDeviceGetAttribute(&value, cudaDevAttrMaxSharedMemoryPerBlockOptin, device) ==
            cudaSuccess) {
      l.smem = static_cast<size_t>(value);
    } else {
      cudaGetLastError();
      l = DeviceLimits{};
    }
    return l;
  }();
  return limits;
}

}  // namespace

int NumConfigs() { return kNumConfigs; }

const char* ConfigName(int config) {
  return config >= 0 && config < kNumConfigs ? kConfigs[config].name : "wgmma:?";
}

bool Supports(int config, int m, int k, int lda, int ldw) {
#ifndef CORVID_WGMMA_SM90A
  return false;  // built without sm_90a code: the kernels are empty
#endif
  // sm_90a code runs on compute capability 9.0 devices only.
  if (config < 0 || config >= kNumConfigs || m < 1 || m > kMaxRows || k < 16 || k % 16 != 0 ||
      lda % 8 != 0 || ldw % 8 != 0 || Limits().major != 9) {
    return false;
  }
  const Config& c = kConfigs[config];
  return SmemBytes(c.kc, c.stages, RowTile(m)) <= Limits().smem;
}

KernelError Launch(int config, DataType dtype, const void* x, int lda, const void* w, int ldw,
                   void* y, bool y_is_f32, int m, int n, int k, StreamHandle stream) {
  if (n == 0) return kKernelOk;
  if (n < 0 || !Supports(config, m, k, lda, ldw)) return kKernelInvalidValue;
  return CORVID_DISPATCH_HALF(dtype, T, [&] {
    const T* xt = static_cast<const T*>(x);
    const T* wt = static_cast<const T*>(w);
    return y_is_f32 ? LaunchTyped<T, true>(config, xt, lda, wt, ldw, y, m, n, k, AsStream(stream))
                    : LaunchTyped<T, false>(config, xt, lda, wt, ldw, y, m, n, k,
                                            AsStream(stream));
  });
}

}  // namespace corvid::kernels::stream_wgmma
