#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda_utils.cuh"
#include "kernels/l2_prefetch.h"

namespace corvid::kernels {
namespace {

constexpr int kThreads = 32;
constexpr int64_t kLine = 128;

// One request: [p, p + n) of one row.
__device__ __forceinline__ void Request(const char* p, int64_t n) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  if (n >= 4096 && reinterpret_cast<uintptr_t>(p) % 16 == 0) {
    const uint32_t bytes = static_cast<uint32_t>(n & ~int64_t{15});  // whole 16-byte units
    asm volatile("cp.async.bulk.prefetch.L2.global [%0], %1;" ::"l"(p), "r"(bytes) : "memory");
    return;
  }
#endif
  for (int64_t off = 0; off < n; off += kLine) {
    asm volatile("prefetch.global.L2 [%0];" ::"l"(p + off));
  }
}

__global__ void L2PrefetchKernel(const char* data, int rows, int64_t row_stride, int64_t bytes,
                                 int64_t chunk) {
  const int64_t per_row = (bytes + chunk - 1) / chunk;
  const int64_t total = per_row * rows;
  const int64_t stride = int64_t{gridDim.x} * blockDim.x;
  for (int64_t w = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; w < total; w += stride) {
    const int64_t r = w / per_row, c = w % per_row;
    const int64_t begin = c * chunk;
    const int64_t n = bytes - begin < chunk ? bytes - begin : chunk;
    Request(data + r * row_stride + begin, n);
  }
}

}  // namespace

KernelError LaunchL2Prefetch(const void* data, int rows, int64_t row_stride, int64_t bytes_per_row,
                             int blocks, StreamHandle stream) {
  if (rows == 0 || bytes_per_row == 0) return kKernelOk;
  if (data == nullptr || blocks < 1 || rows < 0 || bytes_per_row < 0) return kKernelInvalidValue;
  // Long spans in 32 KB bulk requests; short ones one line per request.
  const int64_t chunk = bytes_per_row >= 4096 ? 32 * 1024 : kLine;
  L2PrefetchKernel<<<blocks, kThreads, 0, AsStream(stream)>>>(static_cast<const char*>(data), rows,
                                                              row_stride, bytes_per_row, chunk);
  return cudaGetLastError();
}

}  // namespace corvid::kernels
