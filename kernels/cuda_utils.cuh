// Device helpers shared by the .cu files (never included by host-only code).
#ifndef CORVID_KERNELS_CUDA_UTILS_CUH_
#define CORVID_KERNELS_CUDA_UTILS_CUH_

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/kernel_api.h"

namespace corvid::kernels {

__device__ __forceinline__ float ToFloat(float x) { return x; }
__device__ __forceinline__ float ToFloat(__half x) { return __half2float(x); }
__device__ __forceinline__ float ToFloat(__nv_bfloat16 x) { return __bfloat162float(x); }

template <typename T>
__device__ __forceinline__ T FromFloat(float x);
template <>
__device__ __forceinline__ float FromFloat<float>(float x) { return x; }
template <>
__device__ __forceinline__ __half FromFloat<__half>(float x) { return __float2half_rn(x); }
template <>
__device__ __forceinline__ __nv_bfloat16 FromFloat<__nv_bfloat16>(float x) {
  return __float2bfloat16_rn(x);
}

// Eight 16-bit elements (16 bytes) converted to float.
template <typename T>
__device__ __forceinline__ void Unpack8(const uint4& v, float out[8]) {
  const T* e = reinterpret_cast<const T*>(&v);
#pragma unroll
  for (int i = 0; i < 8; ++i) out[i] = ToFloat(e[i]);
}

template <typename T>
__device__ __forceinline__ uint4 Pack8(const float in[8]) {
  uint4 v;
  T* e = reinterpret_cast<T*>(&v);
#pragma unroll
  for (int i = 0; i < 8; ++i) e[i] = FromFloat<T>(in[i]);
  return v;
}

// A 16-byte global load that bypasses L1 (weights are streamed once per step).
__device__ __forceinline__ uint4 LoadStreaming(const void* p) {
  uint4 v;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "l"(p));
  return v;
}

__device__ __forceinline__ float WarpSum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ float WarpMax(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Block-wide sum in a fixed order (deterministic). `scratch` holds >= 32 floats. Every thread
// gets the result. Must be called by all threads of the block.
__device__ __forceinline__ float BlockSum(float v, float* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int num_warps = (blockDim.x + 31) >> 5;
  v = WarpSum(v);
  __syncthreads();  // scratch may still be read by a previous call
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  float total = 0.0f;
  for (int w = 0; w < num_warps; ++w) total += scratch[w];
  return total;
}

__device__ __forceinline__ float BlockMax(float v, float* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int num_warps = (blockDim.x + 31) >> 5;
  v = WarpMax(v);
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  float m = -INFINITY;
  for (int w = 0; w < num_warps; ++w) m = fmaxf(m, scratch[w]);
  return m;
}

inline KernelError LastLaunchError() { return static_cast<KernelError>(cudaGetLastError()); }

inline cudaStream_t AsStream(StreamHandle s) { return static_cast<cudaStream_t>(s); }

}  // namespace corvid::kernels

// Runs the lambda body with `T` bound to the 16-bit element type of `dtype`.
#define CORVID_DISPATCH_HALF(dtype, T, ...)                  \
  [&]() -> ::corvid::kernels::KernelError {                  \
    switch (dtype) {                                         \
      case ::corvid::kernels::DataType::kF16: {              \
        using T = __half;                                    \
        return __VA_ARGS__();                                \
      }                                                      \
      case ::corvid::kernels::DataType::kBF16: {             \
        using T = __nv_bfloat16;                             \
        return __VA_ARGS__();                                \
      }                                                      \
      default:                                               \
        return ::corvid::kernels::kKernelInvalidValue;       \
    }                                                        \
  }()

#endif  // CORVID_KERNELS_CUDA_UTILS_CUH_
