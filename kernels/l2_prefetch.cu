// Bulk L2 prefetch (see l2_prefetch.h): each thread hands the copy engine one contiguous range
// (cp.async.bulk.prefetch.L2), then waits for the kernel before it, which keeps the stream's
// order for the kernels after this one.
#include "kernels/l2_prefetch.h"
#include "kernels/pdl.cuh"

namespace corvid::kernels {
namespace {

constexpr int kThreads = 64;
constexpr int kBlocks = 8;

__global__ void __launch_bounds__(kThreads) L2PrefetchKernel(const char* ptr, int64_t bytes) {
  TriggerDependents();
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  constexpr int64_t kMaxPiece = int64_t{1} << 20;  // bytes per bulk prefetch
  const int64_t pieces = (bytes + kMaxPiece - 1) / kMaxPiece;
  for (int64_t i = blockIdx.x * kThreads + threadIdx.x; i < pieces; i += kThreads * kBlocks) {
    const int64_t begin = i * kMaxPiece;
    const int64_t n = bytes - begin < kMaxPiece ? bytes - begin : kMaxPiece;
    asm volatile("cp.async.bulk.prefetch.L2.global [%0], %1;" ::"l"(ptr + begin),
                 "r"(static_cast<uint32_t>(n))
                 : "memory");
  }
#endif
  WaitForPrimary();
}

}  // namespace

bool L2PrefetchSupported() { return PdlEnabled(); }

KernelError LaunchL2Prefetch(const void* ptr, int64_t bytes, StreamHandle stream) {
  bytes = bytes / 16 * 16;
  if (bytes <= 0 || !L2PrefetchSupported()) return kKernelOk;
  if (reinterpret_cast<uintptr_t>(ptr) % 16 != 0) return kKernelOk;  // a hint: skip it
  return LaunchPdl(L2PrefetchKernel, dim3(kBlocks), dim3(kThreads), 0, AsStream(stream),
                   static_cast<const char*>(ptr), bytes);
}

}  // namespace corvid::kernels
