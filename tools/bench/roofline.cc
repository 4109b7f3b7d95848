#include "tools/bench/roofline.h"

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <vector>

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/device_memory.h"
#include "kernels/elementwise.h"

namespace corvid::bench {
namespace {

// Median of `reps` event-timed runs of `fn` (milliseconds), after one warm-up.
template <typename Fn>
absl::StatusOr<double> MedianMs(int reps, Fn fn) {
  cudaEvent_t a, b;
  CUDA_RETURN_IF_ERROR(cudaEventCreate(&a));
  CUDA_RETURN_IF_ERROR(cudaEventCreate(&b));
  RETURN_IF_ERROR(fn());
  std::vector<double> times;
  for (int i = 0; i < reps; ++i) {
    cudaEventRecord(a);
    RETURN_IF_ERROR(fn());
    cudaEventRecord(b);
    CUDA_RETURN_IF_ERROR(cudaEventSynchronize(b));
    float ms = 0.0f;
    cudaEventElapsedTime(&ms, a, b);
    times.push_back(ms);
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

}  // namespace

absl::StatusOr<Roofline> MeasureRoofline() {
  Roofline r;
  {
    const size_t bytes = size_t{2} << 30;
    ASSIGN_OR_RETURN(cuda::DeviceBuffer src, cuda::DeviceBuffer::Allocate(bytes));
    ASSIGN_OR_RETURN(cuda::DeviceBuffer dst, cuda::DeviceBuffer::Allocate(bytes));
    KERNEL_RETURN_IF_ERROR(kernels::LaunchRandomFill(kernels::DataType::kBF16, src.data(),
                                                     bytes / 2, 1, 1.0f, 0.0f, nullptr));
    ASSIGN_OR_RETURN(double ms, MedianMs(10, [&]() -> absl::Status {
                       CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(dst.data(), src.data(), bytes,
                                                            cudaMemcpyDeviceToDevice));
                       return absl::OkStatus();
                     }));
    r.copy_gbps = 2.0 * bytes / (ms * 1e6);
  }
  {
    const int n = 8192;
    const size_t elems = size_t{n} * n;
    ASSIGN_OR_RETURN(cuda::DeviceBuffer a, cuda::DeviceBuffer::Allocate(elems * 2));
    ASSIGN_OR_RETURN(cuda::DeviceBuffer b, cuda::DeviceBuffer::Allocate(elems * 2));
    ASSIGN_OR_RETURN(cuda::DeviceBuffer c, cuda::DeviceBuffer::Allocate(elems * 2));
    KERNEL_RETURN_IF_ERROR(kernels::LaunchRandomFill(kernels::DataType::kBF16, a.data(), elems,
                                                     2, 1.0f, 0.0f, nullptr));
    KERNEL_RETURN_IF_ERROR(kernels::LaunchRandomFill(kernels::DataType::kBF16, b.data(), elems,
                                                     3, 1.0f, 0.0f, nullptr));
    cublasHandle_t h;
    CUBLAS_RETURN_IF_ERROR(cublasCreate(&h));
    const float alpha = 1.0f, beta = 0.0f;
    auto ms = MedianMs(10, [&]() -> absl::Status {
      CUBLAS_RETURN_IF_ERROR(cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, n, n, n, &alpha, a.data(),
                                          CUDA_R_16BF, n, b.data(), CUDA_R_16BF, n, &beta,
                                          c.data(), CUDA_R_16BF, n, CUBLAS_COMPUTE_32F,
                                          CUBLAS_GEMM_DEFAULT));
      return absl::OkStatus();
    });
    cublasDestroy(h);
    if (!ms.ok()) return ms.status();
    r.gemm_tflops = 2.0 * n * double(n) * n / (*ms * 1e9);
  }
  return r;
}

}  // namespace corvid::bench
