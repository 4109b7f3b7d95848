// Bulk-copy decode GEMM (see bulk_gemm.h).
//
// Ring of S stages; stage j holds k values [j*KC, j*KC + KC) of the block's R weight rows and of
// 16*Fm activation rows, as 64-wide column tiles written by the tensor memory accelerator (one
// `cp.async.bulk.tensor.2d` per tile) in the 128-byte swizzle: within each 1024-byte group of
// eight 128-byte rows, the 16-byte chunk c of row r sits at chunk c ^ (r % 8), so the ldmatrix
// reads of eight rows fall in different banks. A first version issued one 1-D bulk copy per row
// and stage; a copy took ~45 ns to issue, which held the kernel far below the memory bandwidth.
//
// Two mbarriers per slot: `full` (the producer's arrival plus the bytes of the stage's tiles)
// and `empty` (one arrival per consumer warp once it has read the slot). Rows past n or m are
// zero-filled by the copy engine and never stored (an mma output element depends on its own A
// row and B column only).
#include <cuda.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "kernels/bulk_gemm.h"
#include "kernels/mma_utils.cuh"
#include "kernels/pdl.cuh"

namespace corvid::kernels {
namespace {

// More rows per block: fewer, longer weight streams; a smaller ring (shared-memory budget, KB)
// lets two or three blocks share an SM.
struct ConfigDesc {
  const char* name;
  int rows, kc, budget_kb;
};
constexpr ConfigDesc kConfigs[] = {
    {"bulk:R32/K256/100K", 32, 256, 100},   {"bulk:R48/K256/100K", 48, 256, 100},
    {"bulk:R64/K256/200K", 64, 256, 200},   {"bulk:R64/K128/100K", 64, 128, 100},
    {"bulk:R128/K128/200K", 128, 128, 200}, {"bulk:R32/K128/64K", 32, 128, 64},
    // gate_up of the 8B shape (28672 rows) in one wave on 132 SMs: 128 blocks of 224 rows, or
    // 256 of 112 rows two to an SM (R64 and R128 leave a partial last wave).
    {"bulk:R224/K128/200K", 224, 128, 200}, {"bulk:R112/K128/100K", 112, 128, 100},
};
constexpr int kNumConfigs = sizeof(kConfigs) / sizeof(kConfigs[0]);

constexpr int kTileK = 64;          // k values per tile row: 128 bytes, the swizzle's width
constexpr int kTileRowBytes = 128;  // one tile row
constexpr int kAlign = 1024;        // the swizzle pattern repeats every 8 rows of 128 bytes

template <int kRows_, int kKc_, int kFm_, int kBudgetKb>
struct Shape {
  static constexpr int kRows = kRows_, kKc = kKc_, kFm = kFm_;
  static constexpr int kConsumers = kRows / 16;  // one warp per 16 weight rows
  static constexpr int kTok = 16 * kFm;          // activation rows a stage holds
  static constexpr int kTiles = kKc / kTileK;    // column tiles per stage
  static constexpr int kWTileBytes = kRows * kTileRowBytes;
  static constexpr int kXTileBytes = kTok * kTileRowBytes;
  static constexpr int kStageBytes = kTiles * (kWTileBytes + kXTileBytes);
  // At least two stages, even where two exceed the budget (64 activation rows).
  static constexpr int kStages = std::max(2, std::min(8, kBudgetKb * 1024 / kStageBytes));
  static_assert(kRows % 16 == 0 && kKc % kTileK == 0, "shape");
  static_assert(kWTileBytes % kAlign == 0 && kXTileBytes % kAlign == 0, "tile alignment");
  // The ring (1024-byte aligned at run time, hence the slack), then 2 * kStages mbarriers.
  static constexpr size_t kSmemBytes = kAlign + size_t{kStages} * kStageBytes + 16 * kStages;
  static constexpr int kThreads = (kConsumers + 1) * 32;
};

// --- mbarrier and tensor-copy PTX (sm_90) -------------------------------------------------
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900

__device__ __forceinline__ void MbarInit(uint32_t bar, int count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(bar), "r"(count) : "memory");
}

__device__ __forceinline__ void MbarArriveExpectTx(uint32_t bar, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(bar), "r"(bytes)
               : "memory");
}

__device__ __forceinline__ void MbarArrive(uint32_t bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];" ::"r"(bar) : "memory");
}

__device__ __forceinline__ void MbarWait(uint32_t bar, uint32_t parity) {
  uint32_t done = 0;
  do {
    asm volatile(
        "{\n .reg .pred p;\n"
        " mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n"
        " selp.u32 %0, 1, 0, p;\n}"
        : "=r"(done)
        : "r"(bar), "r"(parity)
        : "memory");
  } while (done == 0);
}

// The box at (column x, row y) of `map` into shared memory at `dst`.
__device__ __forceinline__ void TensorCopy(uint32_t dst, const CUtensorMap* map, int x, int y,
                                           uint32_t bar) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes"
      " [%0], [%1, {%2, %3}], [%4];" ::"r"(dst),
      "l"(reinterpret_cast<uint64_t>(map)), "r"(x), "r"(y), "r"(bar)
      : "memory");
}

__device__ __forceinline__ void LdMatrixX4Addr(uint32_t r[4], uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}

// Byte offset of the 16-byte chunk `chunk` of row `row` in a 128-byte-swizzled tile.
__device__ __forceinline__ uint32_t Swizzled(int row, int chunk) {
  return static_cast<uint32_t>(row * kTileRowBytes + ((chunk ^ (row & 7)) << 4));
}

#endif

// --- the kernel ---------------------------------------------------------------------------

template <typename T, bool kF32Out, int kRows, int kKc, int kFm, int kBudgetKb>
__global__ void __launch_bounds__(Shape<kRows, kKc, kFm, kBudgetKb>::kThreads)
    BulkGemmKernel(const __grid_constant__ CUtensorMap xmap,
                   const __grid_constant__ CUtensorMap wmap, void* __restrict__ out, int m, int n,
                   int k, int early) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  using S = Shape<kRows, kKc, kFm, kBudgetKb>;
  extern __shared__ unsigned char smem[];
  const uint32_t base = (SmemAddr(smem) + kAlign - 1) & ~uint32_t{kAlign - 1};
  const uint32_t bars = base + S::kStages * S::kStageBytes;
  // Stage `slot`: kTiles weight tiles, then kTiles activation tiles.
  auto w_tile = [&](int slot, int t) { return base + slot * S::kStageBytes + t * S::kWTileBytes; };
  auto x_tile = [&](int slot, int t) {
    return base + slot * S::kStageBytes + S::kTiles * S::kWTileBytes + t * S::kXTileBytes;
  };
  auto full = [&](int slot) { return bars + 8 * slot; };
  auto empty = [&](int slot) { return bars + 8 * (S::kStages + slot); };

  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int n0 = blockIdx.x * kRows;
  const int num_stages = (k + kKc - 1) / kKc;
  if (threadIdx.x == 0) {
    for (int s = 0; s < S::kStages; ++s) {
      MbarInit(full(s), 1);
      MbarInit(empty(s), S::kConsumers);
    }
    asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
  }
  __syncthreads();

  if (warp == 0) {
    if (lane == 0) {
      // Tiles of stage j that hold any k < k (a tile partly past k is zero-filled and counted
      // whole, like the rows past n or m).
      auto tiles = [&](int j) { return min(S::kTiles, (k - j * kKc + kTileK - 1) / kTileK); };
      auto expect = [&](int j) {
        MbarArriveExpectTx(full(j % S::kStages),
                           static_cast<uint32_t>(tiles(j) * (S::kWTileBytes + S::kXTileBytes)));
      };
      auto weights = [&](int j) {
        for (int t = 0; t < tiles(j); ++t) {
          TensorCopy(w_tile(j % S::kStages, t), &wmap, j * kKc + t * kTileK, n0,
                     full(j % S::kStages));
        }
      };
      auto acts = [&](int j) {
        for (int t = 0; t < tiles(j); ++t) {
          TensorCopy(x_tile(j % S::kStages, t), &xmap, j * kKc + t * kTileK, 0,
                     full(j % S::kStages));
        }
      };
      // Weights do not depend on the kernel before this one: the first stages go out before
      // waiting for it; the activations only after.
      const int first = min(S::kStages, num_stages);
      for (int j = 0; j < first; ++j) {
        expect(j);
        weights(j);
      }
      WaitForPrimary();
      // The kernel after this one (RMSNorm, SiLU*mul, attention) may now be scheduled, and it
      // lets the GEMM after it stream its first weight stages during this one's tail (pdl.cuh).
      if (early) TriggerDependents();
      for (int j = 0; j < first; ++j) acts(j);
      for (int j = first; j < num_stages; ++j) {
        MbarWait(empty(j % S::kStages), ((j / S::kStages) - 1) & 1);
        expect(j);
        weights(j);
        acts(j);
      }
    }
    return;
  }

  // Consumer warp c: weight rows [16c, 16c + 16) of the block, as two 8-row B operands; the
  // ldmatrix lanes address matrix mi = lane / 8, row mr = lane % 8 of it.
  const int c = warp - 1;
  const int mi = lane >> 3, mr = lane & 7;
  const bool active = n0 + c * 16 < n;
  const int w_row = c * 16 + (mi >> 1) * 8 + mr, w_half = mi & 1;  // B: rows 0-7 | 8-15
  const int x_row = (mi & 1) * 8 + mr, x_half = mi >> 1;           // A: k 0-7 | 8-15
  float acc[kFm][2][4];
#pragma unroll
  for (int i = 0; i < kFm; ++i) {
#pragma unroll
    for (int h = 0; h < 2; ++h) acc[i][h][0] = acc[i][h][1] = acc[i][h][2] = acc[i][h][3] = 0.0f;
  }
  // kSteps k16 steps of column tile t of stage slot `slot`, starting at step kk0 of the tile:
  // every fragment is loaded before the first mma, so the loads' latencies overlap (a rolled
  // loop of load-then-multiply paid each load's latency in turn, ~130 cycles a step).
  auto steps = [&](auto n_steps, int slot, int t, int kk0) {
    constexpr int kSteps = decltype(n_steps)::value;
    uint32_t bf[kSteps][4], af[kSteps][kFm][4];
#pragma unroll
    for (int s = 0; s < kSteps; ++s) {
      const int chunk = (kk0 + s) * 2;  // first 16-byte chunk of the k16
      LdMatrixX4Addr(bf[s], w_tile(slot, t) + Swizzled(w_row, chunk + w_half));
#pragma unroll
      for (int i = 0; i < kFm; ++i) {
        if (i * 16 < m) {
          LdMatrixX4Addr(af[s][i], x_tile(slot, t) + Swizzled(i * 16 + x_row, chunk + x_half));
        }
      }
    }
#pragma unroll
    for (int s = 0; s < kSteps; ++s) {
#pragma unroll
      for (int i = 0; i < kFm; ++i) {
        if (i * 16 < m) {
          Mma16816<T>(acc[i][0], af[s][i], bf[s][0], bf[s][1]);
          Mma16816<T>(acc[i][1], af[s][i], bf[s][2], bf[s][3]);
        }
      }
    }
  };
  using Four = std::integral_constant<int, 4>;
  using One = std::integral_constant<int, 1>;
  for (int j = 0; j < num_stages; ++j) {
    const int slot = j % S::kStages;
    MbarWait(full(slot), (j / S::kStages) & 1);
    if (active) {
      if ((j + 1) * kKc <= k) {
#pragma unroll
        for (int t = 0; t < S::kTiles; ++t) steps(Four{}, slot, t, 0);
      } else {  // the last, partial stage: step by step
        const int left = (k - j * kKc) / 16;
        for (int kk = 0; kk < left; ++kk) steps(One{}, slot, kk >> 2, kk & 3);
      }
    }
    __syncwarp();
    if (lane == 0) MbarArrive(empty(slot));
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
        StoreOut<T, kF32Out>(out, static_cast<int64_t>(row) * n + col, acc[i][h][e]);
      }
    }
  }
#endif
}

// --- tensor maps (host) -------------------------------------------------------------------

// cuTensorMapEncodeTiled, looked up through the runtime (no link against the driver library).
using EncodeTiledFn = CUresult (*)(CUtensorMap*, CUtensorMapDataType, cuuint32_t, void*,
                                   const cuuint64_t*, const cuuint64_t*, const cuuint32_t*,
                                   const cuuint32_t*, CUtensorMapInterleave, CUtensorMapSwizzle,
                                   CUtensorMapL2promotion, CUtensorMapFloatOOBfill);

EncodeTiledFn EncodeTiled() {
  static const EncodeTiledFn fn = [] {
    void* p = nullptr;
    cudaDriverEntryPointQueryResult q;
    if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &p, 12000, cudaEnableDefault,
                                         &q) != cudaSuccess ||
        q != cudaDriverEntryPointSuccess) {
      cudaGetLastError();
      return static_cast<EncodeTiledFn>(nullptr);
    }
    return reinterpret_cast<EncodeTiledFn>(p);
  }();
  return fn;
}

// A [rows, cols] matrix of 16-bit elements with row stride ld, read in boxes of box_rows x 64.
bool MakeMap(CUtensorMap* map, const void* p, int rows, int cols, int ld, int box_rows) {
  const EncodeTiledFn encode = EncodeTiled();
  if (encode == nullptr) return false;
  const cuuint64_t dims[2] = {static_cast<cuuint64_t>(cols), static_cast<cuuint64_t>(rows)};
  const cuuint64_t strides[1] = {static_cast<cuuint64_t>(ld) * 2};
  const cuuint32_t box[2] = {kTileK, static_cast<cuuint32_t>(box_rows)};
  const cuuint32_t step[2] = {1, 1};
  return encode(map, CU_TENSOR_MAP_DATA_TYPE_UINT16, 2, const_cast<void*>(p), dims, strides, box,
                step, CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
                CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
                CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) == CUDA_SUCCESS;
}

template <typename T, bool kF32Out, int kRows, int kKc, int kFm, int kBudgetKb>
KernelError LaunchShape(const void* x, int lda, const void* w, int ldw, void* y, int m, int n,
                        int k, cudaStream_t stream) {
  using S = Shape<kRows, kKc, kFm, kBudgetKb>;
  auto* kernel = BulkGemmKernel<T, kF32Out, kRows, kKc, kFm, kBudgetKb>;
  static const cudaError_t attr =
      cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, S::kSmemBytes);
  if (attr != cudaSuccess) return static_cast<KernelError>(attr);
  CUtensorMap xmap, wmap;
  if (!MakeMap(&xmap, x, m, k, lda, S::kTok) || !MakeMap(&wmap, w, n, k, ldw, kRows)) {
    return kKernelInvalidValue;
  }
  const dim3 grid((n + kRows - 1) / kRows);
  return LaunchPdl(kernel, grid, dim3(S::kThreads), S::kSmemBytes, stream, xmap, wmap, y, m, n,
                   k, PdlEarlyRelease(m) ? 1 : 0);
}

template <typename T, bool kF32Out, int kRows, int kKc, int kBudgetKb>
KernelError LaunchRows(const void* x, int lda, const void* w, int ldw, void* y, int m, int n,
                       int k, cudaStream_t s) {
  if (m <= 16) {
    return LaunchShape<T, kF32Out, kRows, kKc, 1, kBudgetKb>(x, lda, w, ldw, y, m, n, k, s);
  }
  if (m <= 32) {
    return LaunchShape<T, kF32Out, kRows, kKc, 2, kBudgetKb>(x, lda, w, ldw, y, m, n, k, s);
  }
  return LaunchShape<T, kF32Out, kRows, kKc, 4, kBudgetKb>(x, lda, w, ldw, y, m, n, k, s);
}

template <typename T, bool kF32Out>
KernelError LaunchTyped(int config, const void* x, int lda, const void* w, int ldw, void* y,
                        int m, int n, int k, cudaStream_t s) {
  switch (config) {
    case 0: return LaunchRows<T, kF32Out, 32, 256, 100>(x, lda, w, ldw, y, m, n, k, s);
    case 1: return LaunchRows<T, kF32Out, 48, 256, 100>(x, lda, w, ldw, y, m, n, k, s);
    case 2: return LaunchRows<T, kF32Out, 64, 256, 200>(x, lda, w, ldw, y, m, n, k, s);
    case 3: return LaunchRows<T, kF32Out, 64, 128, 100>(x, lda, w, ldw, y, m, n, k, s);
    case 4: return LaunchRows<T, kF32Out, 128, 128, 200>(x, lda, w, ldw, y, m, n, k, s);
    case 5: return LaunchRows<T, kF32Out, 32, 128, 64>(x, lda, w, ldw, y, m, n, k, s);
    case 6: return LaunchRows<T, kF32Out, 224, 128, 200>(x, lda, w, ldw, y, m, n, k, s);
    case 7: return LaunchRows<T, kF32Out, 112, 128, 100>(x, lda, w, ldw, y, m, n, k, s);
    default: return kKernelInvalidValue;
  }
}

bool DeviceHasTensorCopies() {
  static const bool ok = [] {
    int device = 0, major = 0;
    if (cudaGetDevice(&device) != cudaSuccess ||
        cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess) {
      cudaGetLastError();
      return false;
    }
    return major >= 9 && EncodeTiled() != nullptr;
  }();
  return ok;
}

}  // namespace

int NumBulkGemmConfigs() { return kNumConfigs; }

const char* BulkGemmConfigName(int config) {
  return (config >= 0 && config < kNumConfigs) ? kConfigs[config].name : "invalid";
}

bool BulkGemmSupports(int config, int m, int k, int lda, int ldw) {
  return config >= 0 && config < kNumConfigs && m >= 1 && m <= kBulkGemmMaxRows && k > 0 &&
         k % 16 == 0 && lda % 8 == 0 && ldw % 8 == 0 && lda >= k && ldw >= k &&
         DeviceHasTensorCopies();
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
