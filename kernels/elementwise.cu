// Per-token elementwise kernels (see elementwise.h). These move little data; they are kept
// simple, with one block per token row and coalesced scalar accesses.
#include "kernels/cuda_utils.cuh"
#include "kernels/elementwise.h"

namespace corvid::kernels {
namespace {

template <typename T>
__global__ void EmbeddingKernel(const int32_t* ids, const T* table, int vocab, int hidden,
                                float* residual) {
  const int t = blockIdx.x;
  const int id = ids[t];
  float* dst = residual + static_cast<int64_t>(t) * hidden;
  if (id < 0 || id >= vocab) {
    for (int h = threadIdx.x; h < hidden; h += blockDim.x) dst[h] = 0.0f;
    return;
  }
  const T* src = table + static_cast<int64_t>(id) * hidden;
  for (int h = threadIdx.x; h < hidden; h += blockDim.x) dst[h] = ToFloat(src[h]);
}

template <typename T>
__global__ void AddRmsNormKernel(float* residual, const T* add, const T* weight,
                                 const int32_t* rows, int hidden, float eps, T* out) {
  __shared__ float scratch[32];
  const int i = blockIdx.x;
  const int r = rows ? rows[i] : i;
  float* res = residual + static_cast<int64_t>(r) * hidden;
  const T* a = add ? add + static_cast<int64_t>(r) * hidden : nullptr;
  float sum_sq = 0.0f;
  for (int h = threadIdx.x; h < hidden; h += blockDim.x) {
    float v = res[h];
    if (a) {
      v += ToFloat(a[h]);
      res[h] = v;
    }
    sum_sq += v * v;
  }
  const float total = BlockSum(sum_sq, scratch);
  const float inv_rms = rsqrtf(total / static_cast<float>(hidden) + eps);
  T* o = out + static_cast<int64_t>(i) * hidden;
  // Each thread re-reads only the elements it wrote itself above.
  for (int h = threadIdx.x; h < hidden; h += blockDim.x) {
    o[h] = FromFloat<T>(res[h] * inv_rms * ToFloat(weight[h]));
  }
}

template <typename T>
__global__ void SiluMulKernel(const T* gate_up, int inter, T* out, int out_stride) {
  const int t = blockIdx.x;
  const T* g = gate_up + static_cast<int64_t>(t) * 2 * inter;
  const T* u = g + inter;
  T* o = out + static_cast<int64_t>(t) * out_stride;
  for (int i = threadIdx.x; i < inter; i += blockDim.x) {
    const float x = ToFloat(g[i]);
    o[i] = FromFloat<T>(x / (1.0f + __expf(-x)) * ToFloat(u[i]));
  }
}

// SplitMix64 finaliser: a cheap, well-mixed hash of (seed, index).
__device__ __forceinline__ uint64_t Mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

template <typename T>
__global__ void RandomFillKernel(T* data, int64_t n, uint64_t seed, float scale, float offset) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += stride) {
    const uint64_t bits = Mix64(seed * 0x9e3779b97f4a7c15ull + static_cast<uint64_t>(i));
    const float u = static_cast<float>(bits >> 40) * (1.0f / 16777216.0f);
    data[i] = FromFloat<T>(offset + scale * (2.0f * u - 1.0f));
  }
}

int RowThreads(int width) {
  int threads = 32;
  while (threads < width && threads < 1024) threads *= 2;
  return threads;
}

}  // namespace

KernelError LaunchEmbedding(DataType dtype, const int32_t* ids, const void* table, int vocab,
                            int hidden, int num_tokens, float* residual, StreamHandle stream) {
  if (num_tokens == 0) return kKernelOk;
  return CORVID_DISPATCH_HALF(dtype, T, [&] {
    EmbeddingKernel<T><<<num_tokens, RowThreads(hidden), 0, AsStream(stream)>>>(
        ids, static_cast<const T*>(table), vocab, hidden, residual);
    return LastLaunchError();
  });
}

KernelError LaunchAddRmsNorm(DataType dtype, float* residual, const void* add, const void* weight,
                             const int32_t* rows, int num_rows, int hidden, float eps, void* out,
                             StreamHandle stream) {
  if (num_rows == 0) return kKernelOk;
  return CORVID_DISPATCH_HALF(dtype, T, [&] {
    AddRmsNormKernel<T><<<num_rows, RowThreads(hidden), 0, AsStream(stream)>>>(
        residual, static_cast<const T*>(add), static_cast<const T*>(weight), rows, hidden, eps,
        static_cast<T*>(out));
    return LastLaunchError();
  });
}

KernelError LaunchSiluMul(DataType dtype, const void* gate_up, int num_tokens, int inter,
                          void* out, int out_stride, StreamHandle stream) {
  if (num_tokens == 0) return kKernelOk;
  return CORVID_DISPATCH_HALF(dtype, T, [&] {
    SiluMulKernel<T><<<num_tokens, RowThreads(inter), 0, AsStream(stream)>>>(
        static_cast<const T*>(gate_up), inter, static_cast<T*>(out), out_stride);
    return LastLaunchError();
  });
}

KernelError LaunchRandomFill(DataType dtype, void* data, int64_t n, uint64_t seed, float scale,
                             float offset, StreamHandle stream) {
  if (n == 0) return kKernelOk;
  const int64_t blocks64 = (n + 255) / 256;
  const int blocks = static_cast<int>(blocks64 < 65536 ? blocks64 : 65536);
  return CORVID_DISPATCH_HALF(dtype, T, [&] {
    RandomFillKernel<T><<<blocks, 256, 0, AsStream(stream)>>>(static_cast<T*>(data), n, seed,
                                                              scale, offset);
    return LastLaunchError();
  });
}

}  // namespace corvid::kernels
