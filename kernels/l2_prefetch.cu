#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda_utils.cuh"
#include "kernels/l2_prefetch.h"

namespace corvid::kernels {
namespace {

constexpr int kThreads = 128;

__global__ void L2PrefetchKernel(const char* data, size_t bytes) {
  const size_t stride = size_t{gridDim.x} * blockDim.x;
  const size_t first = size_t{blockIdx.x} * blockDim.x + threadIdx.x;
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  // Bytes per bulk request (the instruction takes any multiple of 16 up to 2^32).
  constexpr uint32_t kBulkBytes = 64 * 1024;
  // Whole 16-byte-aligned spans through the bulk-copy unit; the ragged ends as lines below.
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(data) + 15) & ~uintptr_t{15};
  const uintptr_t end = (reinterpret_cast<uintptr_t>(data) + bytes) & ~uintptr_t{15};
  for (uintptr_t p = begin + first * kBulkBytes; p < end; p += stride * kBulkBytes) {
    const uint32_t n = static_cast<uint32_t>(end - p < kBulkBytes ? end - p : kBulkBytes);
    asm volatile("cp.async.bulk.prefetch.L2.global [%0], %1;" ::"l"(p), "r"(n) : "memory");
  }
  if (first == 0 && begin > reinterpret_cast<uintptr_t>(data)) {
    asm volatile("prefetch.global.L2 [%0];" ::"l"(data));
  }
  if (first == 0 && end < reinterpret_cast<uintptr_t>(data) + bytes) {
    asm volatile("prefetch.global.L2 [%0];" ::"l"(end));
  }
#else
  for (size_t off = first * 128; off < bytes; off += stride * 128) {
    asm volatile("prefetch.global.L2 [%0];" ::"l"(data + off));
  }
#endif
}

}  // namespace

KernelError LaunchL2Prefetch(const void* data, size_t bytes, int blocks, StreamHandle stream) {
  if (bytes == 0) return kKernelOk;
  if (data == nullptr || blocks < 1) return kKernelInvalidValue;
  L2PrefetchKernel<<<blocks, kThreads, 0, AsStream(stream)>>>(static_cast<const char*>(data),
                                                              bytes);
  return cudaGetLastError();
}

}  // namespace corvid::kernels
