// Types shared by every host launch API in kernels/: no CUDA types, so engine code can include
// these headers whether or not it is compiled by nvcc.
#ifndef CORVID_KERNELS_KERNEL_API_H_
#define CORVID_KERNELS_KERNEL_API_H_

// Small helpers shared by host and device code in these headers.
#if defined(__CUDACC__)
#define CORVID_KERNEL_HD __host__ __device__
#else
#define CORVID_KERNEL_HD
#endif

namespace corvid::kernels {

// Element type of activations, weights and the KV cache (one per model).
enum class DataType { kF32, kF16, kBF16 };

// A cudaStream_t passed through code that must not see CUDA headers.
using StreamHandle = void*;

// Launch functions return a cudaError_t value: 0 (cudaSuccess) when every launch was accepted.
// Invalid arguments (unsupported head_dim, ...) return cudaErrorInvalidValue (1).
using KernelError = int;

constexpr KernelError kKernelOk = 0;
constexpr KernelError kKernelInvalidValue = 1;

}  // namespace corvid::kernels

#endif  // CORVID_KERNELS_KERNEL_API_H_
