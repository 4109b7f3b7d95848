// absl::Status from CUDA runtime, cuBLAS and kernel-launch error codes (internal to the CUDA
// backend: includes CUDA headers).
#ifndef CORVID_ENGINE_CUDA_CUDA_CHECK_H_
#define CORVID_ENGINE_CUDA_CUDA_CHECK_H_

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "absl/status/status.h"
#include "engine/status_macros.h"

namespace corvid::cuda {

absl::Status CudaStatus(cudaError_t err, const char* what);
absl::Status CublasStatus(cublasStatus_t err, const char* what);
// Kernel launch functions return cudaError_t values as int.
inline absl::Status KernelStatus(int err, const char* what) {
  return CudaStatus(static_cast<cudaError_t>(err), what);
}

}  // namespace corvid::cuda

#define CUDA_RETURN_IF_ERROR(expr) RETURN_IF_ERROR(::corvid::cuda::CudaStatus((expr), #expr))
#define CUBLAS_RETURN_IF_ERROR(expr) RETURN_IF_ERROR(::corvid::cuda::CublasStatus((expr), #expr))
#define KERNEL_RETURN_IF_ERROR(expr) RETURN_IF_ERROR(::corvid::cuda::KernelStatus((expr), #expr))

#endif  // CORVID_ENGINE_CUDA_CUDA_CHECK_H_
