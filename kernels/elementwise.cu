// Per-token elementwise kernels (see elementwise.h). They move little data, so at small batch
// their cost is latency: vector accesses, enough blocks, and programmatic dependent launch
// (pdl.cuh) behind the GEMM that precedes them.
#include "kernels/cuda_utils.cuh"
#include "kernels/elementwise.h"
#include "kernels/pdl.cuh"

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

// kVec consecutive elements per access (4: 16-byte fp32 and 8-byte 16-bit accesses).
template <int kVec>
__device__ __forceinline__ void LoadF(const float* p, float (&v)[kVec]) {
  if constexpr (kVec == 4) {
    const float4 x = *reinterpret_cast<const float4*>(p);
    v[0] = x.x, v[1] = x.y, v[2] = x.z, v[3] = x.w;
  } else {
    v[0] = *p;
  }
}
template <int kVec>
__device__ __forceinline__ void StoreF(float* p, const float (&v)[kVec]) {
  if constexpr (kVec == 4) {
    *reinterpret_cast<float4*>(p) = make_float4(v[0], v[1], v[2], v[3]);
  } else {
    *p = v[0];
  }
}
template <typename T, int kVec>
__device__ __forceinline__ void LoadH(const T* p, float (&v)[kVec]) {
  if constexpr (kVec == 4) {
    const uint2 x = *reinterpret_cast<const uint2*>(p);
    const T* e = reinterpret_cast<const T*>(&x);
#pragma unroll
    for (int i = 0; i < 4; ++i) v[i] = ToFloat(e[i]);
  } else {
    v[0] = ToFloat(*p);
  }
}
template <typename T, int kVec>
__device__ __forceinline__ void StoreH(T* p, const float (&v)[kVec]) {
  if constexpr (kVec == 4) {
    uint2 x;
    T* e = reinterpret_cast<T*>(&x);
#pragma unroll
    for (int i = 0; i < 4; ++i) e[i] = FromFloat<T>(v[i]);
    *reinterpret_cast<uint2*>(p) = x;
  } else {
    *p = FromFloat<T>(v[0]);
  }
}

// One block per output row. Launched as a dependent of the GEMM before it (PDL).
template <typename T, int kVec>
__global__ void AddRmsNormKernel(float* residual, const T* add, const T* weight,
                                 const int32_t* rows, int hidden, float eps, T* out, int early) {
  __shared__ float scratch[32];
  WaitThenRelease(early);  // the GEMM after it may start streaming its weights (bulk_gemm.h)
  const int i = blockIdx.x;
  const int r = rows ? rows[i] : i;
  float* res = residual + static_cast<int64_t>(r) * hidden;
  const T* a = add ? add + static_cast<int64_t>(r) * hidden : nullptr;
  float sum_sq = 0.0f;
  for (int h = threadIdx.x * kVec; h < hidden; h += blockDim.x * kVec) {
    float v[kVec];
    LoadF<kVec>(res + h, v);
    if (a) {
      float av[kVec];
      LoadH<T, kVec>(a + h, av);
#pragma unroll
      for (int e = 0; e < kVec; ++e) v[e] += av[e];
      StoreF<kVec>(res + h, v);
    }
#pragma unroll
    for (int e = 0; e < kVec; ++e) sum_sq += v[e] * v[e];
  }
  const float total = BlockSum(sum_sq, scratch);
  const float inv_rms = rsqrtf(total / static_cast<float>(hidden) + eps);
  T* o = out + static_cast<int64_t>(i) * hidden;
  // Each thread re-reads only the elements it wrote itself above.
  for (int h = threadIdx.x * kVec; h < hidden; h += blockDim.x * kVec) {
    float v[kVec], w[kVec];
    LoadF<kVec>(res + h, v);
    LoadH<T, kVec>(weight + h, w);
#pragma unroll
    for (int e = 0; e < kVec; ++e) v[e] = v[e] * inv_rms * w[e];
    StoreH<T, kVec>(o + h, v);
  }
}

// The same for rows of at most kPer vectors per thread, held in registers: the norm weight is
// read before waiting for the GEMM this kernel depends on, the row once, nothing re-read.
template <typename T, int kVec, int kPer>
__global__ void AddRmsNormRegKernel(float* residual, const T* add, const T* weight,
                                    const int32_t* rows, int hidden, float eps, T* out,
                                    int early) {
  __shared__ float scratch[32];
  float w[kPer][kVec], v[kPer][kVec];
#pragma unroll
  for (int j = 0; j < kPer; ++j) {
    const int h = (threadIdx.x + j * blockDim.x) * kVec;
    if (h < hidden) LoadH<T, kVec>(weight + h, w[j]);
  }
  WaitThenRelease(early);  // the GEMM after it may start streaming its weights (bulk_gemm.h)
  const int i = blockIdx.x;
  const int r = rows ? rows[i] : i;
  float* res = residual + static_cast<int64_t>(r) * hidden;
  const T* a = add ? add + static_cast<int64_t>(r) * hidden : nullptr;
  float sum_sq = 0.0f;
#pragma unroll
  for (int j = 0; j < kPer; ++j) {
    const int h = (threadIdx.x + j * blockDim.x) * kVec;
    if (h >= hidden) continue;
    LoadF<kVec>(res + h, v[j]);
    if (a) {
      float av[kVec];
      LoadH<T, kVec>(a + h, av);
#pragma unroll
      for (int e = 0; e < kVec; ++e) v[j][e] += av[e];
      StoreF<kVec>(res + h, v[j]);
    }
#pragma unroll
    for (int e = 0; e < kVec; ++e) sum_sq += v[j][e] * v[j][e];
  }
  const float total = BlockSum(sum_sq, scratch);
  const float inv_rms = rsqrtf(total / static_cast<float>(hidden) + eps);
  T* o = out + static_cast<int64_t>(i) * hidden;
#pragma unroll
  for (int j = 0; j < kPer; ++j) {
    const int h = (threadIdx.x + j * blockDim.x) * kVec;
    if (h >= hidden) continue;
#pragma unroll
    for (int e = 0; e < kVec; ++e) v[j][e] = v[j][e] * inv_rms * w[j][e];
    StoreH<T, kVec>(o + h, v[j]);
  }
}

__device__ __forceinline__ float Silu(float x) { return x / (1.0f + __expf(-x)); }

// Grid (column chunks, tokens): at batch 1 a 14336-wide row still spreads over many SMs.
template <typename T>
__global__ void SiluMulKernel(const T* gate_up, int inter, T* out, int out_stride, int early) {
  WaitThenRelease(early);  // the GEMM after it may start streaming its weights (bulk_gemm.h)
  const int t = blockIdx.y;
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= inter) return;
  const T* g = gate_up + static_cast<int64_t>(t) * 2 * inter;
  out[static_cast<int64_t>(t) * out_stride + i] = FromFloat<T>(Silu(ToFloat(g[i])) * ToFloat(g[inter + i]));
}

// The same with 8 elements (16 bytes) per thread; needs inter and out_stride multiples of 8.
template <typename T>
__global__ void SiluMulVec8Kernel(const T* gate_up, int inter, T* out, int out_stride,
                                  int early) {
  WaitThenRelease(early);  // the GEMM after it may start streaming its weights (bulk_gemm.h)
  const int t = blockIdx.y;
  const int i = (blockIdx.x * blockDim.x + threadIdx.x) * 8;
  if (i >= inter) return;
  const T* g = gate_up + static_cast<int64_t>(t) * 2 * inter;
  float gv[8], uv[8], o[8];
  Unpack8<T>(*reinterpret_cast<const uint4*>(g + i), gv);
  Unpack8<T>(*reinterpret_cast<const uint4*>(g + inter + i), uv);
#pragma unroll
  for (int e = 0; e < 8; ++e) o[e] = Silu(gv[e]) * uv[e];
  *reinterpret_cast<uint4*>(out + static_cast<int64_t>(t) * out_stride + i) = Pack8<T>(o);
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

bool Aligned(const void* p, int bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }

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
  const int early = PdlEarlyRelease(num_rows) ? 1 : 0;
  const bool vec = hidden % 4 == 0 && Aligned(residual, 16) && Aligned(add, 8) &&
                   Aligned(weight, 8) && Aligned(out, 8);
  return CORVID_DISPATCH_HALF(dtype, T, [&] {
    const T* a = static_cast<const T*>(add);
    const T* w = static_cast<const T*>(weight);
    T* o = static_cast<T*>(out);
    if (vec) {
      const int threads = RowThreads(hidden / 4);
      const int per = (hidden / 4 + threads - 1) / threads;
      if (per == 1) {
        return LaunchPdl(AddRmsNormRegKernel<T, 4, 1>, dim3(num_rows), dim3(threads), 0,
                         AsStream(stream), residual, a, w, rows, hidden, eps, o, early);
      }
      if (per <= 4) {
        return LaunchPdl(AddRmsNormRegKernel<T, 4, 4>, dim3(num_rows), dim3(threads), 0,
                         AsStream(stream), residual, a, w, rows, hidden, eps, o, early);
      }
      return LaunchPdl(AddRmsNormKernel<T, 4>, dim3(num_rows), dim3(threads), 0,
                       AsStream(stream), residual, a, w, rows, hidden, eps, o, early);
    }
    return LaunchPdl(AddRmsNormKernel<T, 1>, dim3(num_rows), dim3(RowThreads(hidden)), 0,
                     AsStream(stream), residual, a, w, rows, hidden, eps, o, early);
  });
}

KernelError LaunchSiluMul(DataType dtype, const void* gate_up, int num_tokens, int inter,
                          void* out, int out_stride, StreamHandle stream) {
  if (num_tokens == 0) return kKernelOk;
  constexpr int kThreads = 128;
  constexpr int kMaxGridY = 65535;
  const bool vec = inter % 8 == 0 && out_stride % 8 == 0 && Aligned(gate_up, 16) && Aligned(out, 16);
  const int early = PdlEarlyRelease(num_tokens) ? 1 : 0;
  return CORVID_DISPATCH_HALF(dtype, T, [&] {
    for (int t0 = 0; t0 < num_tokens; t0 += kMaxGridY) {
      const int n = num_tokens - t0 < kMaxGridY ? num_tokens - t0 : kMaxGridY;
      const T* g = static_cast<const T*>(gate_up) + static_cast<int64_t>(t0) * 2 * inter;
      T* o = static_cast<T*>(out) + static_cast<int64_t>(t0) * out_stride;
      const int per_block = vec ? 8 * kThreads : kThreads;
      const dim3 grid((inter + per_block - 1) / per_block, n);
      const KernelError err =
          vec ? LaunchPdl(SiluMulVec8Kernel<T>, grid, dim3(kThreads), 0, AsStream(stream), g,
                          inter, o, out_stride, early)
              : LaunchPdl(SiluMulKernel<T>, grid, dim3(kThreads), 0, AsStream(stream), g, inter,
                          o, out_stride, early);
      if (err != kKernelOk) return err;
    }
    return kKernelOk;
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
