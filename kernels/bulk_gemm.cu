// Bulk-copy decode GEMM (see bulk_gemm.h).
//
// Ring of S stages; stage j holds k values [j*KC, j*KC + KC) of the block's weight rows and of
// the activation rows, each row padded by 16 bytes (ldmatrix reads of 8 rows fall in different
// banks). Two mbarriers per slot: `full` (the producer's arrival plus the bytes of the stage's
// copies) and `empty` (one arrival per consumer warp once it has read the slot).
// Rows past n or m are never copied: their stale contents reach only output columns / rows
// that are not stored, because an mma output element depends on its own A row and B column only.
#include <cuda_runtime.h>

#include <algorithm>

#include "kernels/bulk_gemm.h"
#include "kernels/mma_utils.cuh"
#include "kernels/pdl.cuh"

namespace corvid::kernels {
namespace {

// Fewer rows per block spread a small n over more SMs; longer stages mean fewer copies; a
// smaller ring (shared-memory budget, KB) lets two blocks share an SM, so one block's ring
// fills while the other's drains.
constexpr const char* kConfigNames[] = {"bulk:C2/K256/100K", "bulk:C2/K256/200K",
                                        "bulk:C3/K256/200K", "bulk:C4/K256/200K",
                                        "bulk:C2/K512/200K", "bulk:C4/K128/100K"};
constexpr int kNumConfigs = sizeof(kConfigNames) / sizeof(kConfigNames[0]);

template <int kConsumers_, int kKc_, int kFm_, int kBudgetKb>
struct Shape {
  static constexpr int kConsumers = kConsumers_, kKc = kKc_, kFm = kFm_;
  static constexpr int kRows = 16 * kConsumers;  // weight rows per block
  static constexpr int kTok = 16 * kFm;          // activation rows a stage holds
  static constexpr int kStride = kKc + 8;        // elements per smem row
  static constexpr int kStageElems = (kRows + kTok) * kStride;
  static constexpr int kStageBytes = kStageElems * 2;
  static constexpr int kBarrierBytes = 128;  // 2 * kStages mbarriers, ring 128-byte aligned
  static constexpr int kStages =
      std::max(2, std::min(8, (kBudgetKb * 1024 - kBarrierBytes) / kStageBytes));
  static_assert(kStages >= 2, "stage too large");
  static constexpr size_t kSmemBytes = kBarrierBytes + size_t{kStages} * kStageBytes;
  static constexpr int kThreads = (kConsumers + 1) * 32;
};

// --- mbarrier and bulk-copy PTX (sm_90) ---------------------------------------------------

__device__ __forceinline__ void MbarInit(uint64_t* bar, int count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(SmemAddr(bar)), "r"(count)
               : "memory");
}

__device__ __forceinline__ void MbarArriveExpectTx(uint64_t* bar, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(SmemAddr(bar)),
               "r"(bytes)
               : "memory");
}

__device__ __forceinline__ void MbarArrive(uint64_t* bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];" ::"r"(SmemAddr(bar)) : "memory");
}

__device__ __forceinline__ void MbarWait(uint64_t* bar, uint32_t parity) {
  uint32_t done = 0;
  do {
    asm volatile(
        "{\n .reg .pred p;\n"
        " mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n"
        " selp.u32 %0, 1, 0, p;\n}"
        : "=r"(done)
        : "r"(SmemAddr(bar)), "r"(parity)
        : "memory");
  } while (done == 0);
}

__device__ __forceinline__ void BulkCopy(void* dst, const void* src, uint32_t bytes,
                                         uint64_t* bar) {
  asm volatile(
      "cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];" ::
          "r"(SmemAddr(dst)),
      "l"(src), "r"(bytes), "r"(SmemAddr(bar))
      : "memory");
}

// --- the kernel ---------------------------------------------------------------------------

template <typename S>
struct Ring {
  uint64_t* full;
  uint64_t* empty;
  uint16_t* data;
  __device__ uint16_t* Weights(int slot) const { return data + slot * S::kStageElems; }
  __device__ uint16_t* Acts(int slot) const { return Weights(slot) + S::kRows * S::kStride; }
};

// The producer (one thread): stage j's weight rows, then (after the previous kernel, for the
// first stages) its activation rows.
template <typename S>
struct Producer {
  const Ring<S>& ring;
  const uint16_t* x;
  const uint16_t* w;
  int lda, ldw, rows, m, k;

  __device__ int StageK(int j) const { return min(S::kKc, k - j * S::kKc); }
  __device__ void Expect(int j) const {
    MbarArriveExpectTx(&ring.full[j % S::kStages],
                       static_cast<uint32_t>((rows + m) * StageK(j) * 2));
  }
  __device__ void Weights(int j) const {
    const int slot = j % S::kStages, k0 = j * S::kKc;
    const uint32_t bytes = StageK(j) * 2;
    for (int r = 0; r < rows; ++r) {
      BulkCopy(ring.Weights(slot) + r * S::kStride, w + static_cast<int64_t>(r) * ldw + k0, bytes,
               &ring.full[slot]);
    }
  }
  __device__ void Acts(int j) const {
    const int slot = j % S::kStages, k0 = j * S::kKc;
    const uint32_t bytes = StageK(j) * 2;
    for (int r = 0; r < m; ++r) {
      BulkCopy(ring.Acts(slot) + r * S::kStride, x + static_cast<int64_t>(r) * lda + k0, bytes,
               &ring.full[slot]);
    }
  }
};

template <typename T, bool kF32Out, int kConsumers, int kKc, int kFm, int kBudgetKb>
__global__ void __launch_bounds__(Shape<kConsumers, kKc, kFm, kBudgetKb>::kThreads)
    BulkGemmKernel(const uint16_t* __restrict__ x, int lda, const uint16_t* __restrict__ w,
                   int ldw, void* __restrict__ out, int m, int n, int k) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  using S = Shape<kConsumers, kKc, kFm, kBudgetKb>;
  extern __shared__ __align__(128) unsigned char smem[];
  const Ring<S> ring{reinterpret_cast<uint64_t*>(smem),
                     reinterpret_cast<uint64_t*>(smem) + S::kStages,
                     reinterpret_cast<uint16_t*>(smem + S::kBarrierBytes)};
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int n0 = blockIdx.x * S::kRows;
  const int rows = min(S::kRows, n - n0);
  const int num_stages = (k + kKc - 1) / kKc;
  if (threadIdx.x == 0) {
    for (int s = 0; s < S::kStages; ++s) {
      MbarInit(&ring.full[s], 1);
      MbarInit(&ring.empty[s], kConsumers);
    }
    asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
  }
  __syncthreads();

  if (warp == 0) {
    if (lane == 0) {
      const Producer<S> p{ring, x, w + static_cast<int64_t>(n0) * ldw, lda, ldw, rows, m, k};
      // Weights do not depend on the kernel before this one: the first stages go out before
      // waiting for it; the activations only after.
      const int first = min(S::kStages, num_stages);
      for (int j = 0; j < first; ++j) {
        p.Expect(j);
        p.Weights(j);
      }
      WaitForPrimary();
      for (int j = 0; j < first; ++j) p.Acts(j);
      for (int j = first; j < num_stages; ++j) {
        MbarWait(&ring.empty[j % S::kStages], ((j / S::kStages) - 1) & 1);
        p.Expect(j);
        p.Weights(j);
        p.Acts(j);
      }
    }
    return;
  }

  // Consumer warp c: weight rows [16c, 16c + 16) of the block, as two 8-row B operands.
  const int c = warp - 1;
  const int mi = lane >> 3, mr = lane & 7;
  const bool active = c * 16 < rows;
  float acc[kFm][2][4];
#pragma unroll
  for (int i = 0; i < kFm; ++i) {
#pragma unroll
    for (int h = 0; h < 2; ++h) acc[i][h][0] = acc[i][h][1] = acc[i][h][2] = acc[i][h][3] = 0.0f;
  }
  for (int j = 0; j < num_stages; ++j) {
    const int slot = j % S::kStages;
    MbarWait(&ring.full[slot], (j / S::kStages) & 1);
    const uint16_t* tw = ring.Weights(slot);
    const uint16_t* tx = ring.Acts(slot);
    const int steps = min(kKc, k - j * kKc) / 16;
    if (active) {
      for (int kk = 0; kk < steps; ++kk) {
        uint32_t bf[4];
        LdMatrixX4(bf, tw + (c * 16 + (mi >> 1) * 8 + mr) * S::kStride + kk * 16 + (mi & 1) * 8);
#pragma unroll
        for (int i = 0; i < kFm; ++i) {
          if (i * 16 < m) {
            uint32_t af[4];
            LdMatrixX4(af, tx + (i * 16 + (mi & 1) * 8 + mr) * S::kStride + kk * 16 + (mi >> 1) * 8);
            Mma16816<T>(acc[i][0], af, bf[0], bf[1]);
            Mma16816<T>(acc[i][1], af, bf[2], bf[3]);
          }
        }
      }
    }
    __syncwarp();
    if (lane == 0) MbarArrive(&ring.empty[slot]);
  }
  TriggerDependents();
  if (!active) return;
  const int col_base = n0 + c * 16 + (lane & 3) * 2;
#pragma unroll
  for (int i = 0; i < kFm; ++i) {
#pragma unroll
    for (int h = 0; h < 2; ++h) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int row = i * 16 + (lane >> 2) + (e >> 1) * 8;
        const int col = col_base + h * 8 + (e & 1);
        if (row >= m || col >= n) continue;
        const int64_t idx = static_cast<int64_t>(row) * n + col;
        if (kF32Out) {
          static_cast<float*>(out)[idx] = acc[i][h][e];
        } else {
          static_cast<T*>(out)[idx] = FromFloat<T>(acc[i][h][e]);
        }
      }
    }
  }
#endif
}

template <typename T, bool kF32Out, int kConsumers, int kKc, int kFm, int kBudgetKb>
KernelError LaunchShape(const void* x, int lda, const void* w, int ldw, void* y, int m, int n,
                        int k, cudaStream_t stream) {
  using S = Shape<kConsumers, kKc, kFm, kBudgetKb>;
  auto* kernel = BulkGemmKernel<T, kF32Out, kConsumers, kKc, kFm, kBudgetKb>;
  static const cudaError_t attr =
      cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, S::kSmemBytes);
  if (attr != cudaSuccess) return static_cast<KernelError>(attr);
  const dim3 grid((n + S::kRows - 1) / S::kRows);
  return LaunchPdl(kernel, grid, dim3(S::kThreads), S::kSmemBytes, stream,
                   static_cast<const uint16_t*>(x), lda, static_cast<const uint16_t*>(w), ldw, y,
                   m, n, k);
}

template <typename T, bool kF32Out, int kConsumers, int kKc, int kBudgetKb>
KernelError LaunchRows(const void* x, int lda, const void* w, int ldw, void* y, int m, int n,
                       int k, cudaStream_t s) {
  if (m <= 16) {
    return LaunchShape<T, kF32Out, kConsumers, kKc, 1, kBudgetKb>(x, lda, w, ldw, y, m, n, k, s);
  }
  if (m <= 32) {
    return LaunchShape<T, kF32Out, kConsumers, kKc, 2, kBudgetKb>(x, lda, w, ldw, y, m, n, k, s);
  }
  return LaunchShape<T, kF32Out, kConsumers, kKc, 4, kBudgetKb>(x, lda, w, ldw, y, m, n, k, s);
}

template <typename T, bool kF32Out>
KernelError LaunchTyped(int config, const void* x, int lda, const void* w, int ldw, void* y,
                        int m, int n, int k, cudaStream_t s) {
  switch (config) {
    case 0: return LaunchRows<T, kF32Out, 2, 256, 100>(x, lda, w, ldw, y, m, n, k, s);
    case 1: return LaunchRows<T, kF32Out, 2, 256, 200>(x, lda, w, ldw, y, m, n, k, s);
    case 2: return LaunchRows<T, kF32Out, 3, 256, 200>(x, lda, w, ldw, y, m, n, k, s);
    case 3: return LaunchRows<T, kF32Out, 4, 256, 200>(x, lda, w, ldw, y, m, n, k, s);
    case 4: return LaunchRows<T, kF32Out, 2, 512, 200>(x, lda, w, ldw, y, m, n, k, s);
    case 5: return LaunchRows<T, kF32Out, 4, 128, 100>(x, lda, w, ldw, y, m, n, k, s);
    default: return kKernelInvalidValue;
  }
}

bool DeviceHasBulkCopy() {
  static const bool ok = [] {
    int device = 0, major = 0;
    if (cudaGetDevice(&device) != cudaSuccess ||
        cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess) {
      cudaGetLastError();
      return false;
    }
    return major >= 9;
  }();
  return ok;
}

}  // namespace

int NumBulkGemmConfigs() { return kNumConfigs; }

const char* BulkGemmConfigName(int config) {
  return (config >= 0 && config < kNumConfigs) ? kConfigNames[config] : "invalid";
}

bool BulkGemmSupports(int config, int m, int k, int lda, int ldw) {
  return config >= 0 && config < kNumConfigs && m >= 1 && m <= kBulkGemmMaxRows && k > 0 &&
         k % 16 == 0 && lda % 8 == 0 && ldw % 8 == 0 && lda >= k && ldw >= k &&
         DeviceHasBulkCopy();
}

KernelError LaunchBulkGemm(int config, DataType dtype, const void* x, int lda, const void* w,
                           int ldw, void* y, bool y_is_f32, int m, int n, int k,
                           StreamHandle stream) {
  if (m == 0 || n == 0) return kKernelOk;
  if (n < 0 || !BulkGemmSupports(config, m, k, lda, ldw) ||
      reinterpret_cast<uintptr_t>(x) % 16 != 0 || reinterpret_cast<uintptr_t>(w) % 16 != 0) {
    return kKernelInvalidValue;
  }
  return CORVID_DISPATCH_HALF(dtype, T, [&] {
    return y_is_f32 ? LaunchTyped<T, true>(config, x, lda, w, ldw, y, m, n, k, AsStream(stream))
                    : LaunchTyped<T, false>(config, x, lda, w, ldw, y, m, n, k, AsStream(stream));
  });
}

}  // namespace corvid::kernels
