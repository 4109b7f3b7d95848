// Tensor-core and async-copy building blocks (sm_80+ PTX) for the attention kernels.
#ifndef CORVID_KERNELS_MMA_UTILS_CUH_
#define CORVID_KERNELS_MMA_UTILS_CUH_

#include "kernels/cuda_utils.cuh"

namespace corvid::kernels {

__device__ __forceinline__ uint32_t SmemAddr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// 16-byte global -> shared copy; src_bytes 0 writes zeros (the source is not read).
__device__ __forceinline__ void CpAsync16(void* smem, const void* gmem, int src_bytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(SmemAddr(smem)),
               "l"(gmem), "r"(src_bytes));
}
__device__ __forceinline__ void CpAsyncCommit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void CpAsyncWait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

__device__ __forceinline__ void LdMatrixX4(uint32_t r[4], const void* smem) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(SmemAddr(smem)));
}
__device__ __forceinline__ void LdMatrixX4Trans(uint32_t r[4], const void* smem) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(SmemAddr(smem)));
}

// d (16x8 fp32) += a (16x16) * b (16x8), fp32 accumulation.
template <typename T>
__device__ __forceinline__ void Mma16816(float d[4], const uint32_t a[4], uint32_t b0,
                                         uint32_t b1);
template <>
__device__ __forceinline__ void Mma16816<__nv_bfloat16>(float d[4], const uint32_t a[4],
                                                        uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, "
      "{%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
template <>
__device__ __forceinline__ void Mma16816<__half>(float d[4], const uint32_t a[4], uint32_t b0,
                                                 uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, "
      "{%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Two floats as a pair of 16-bit elements, `lo` in the low half (the lower column).
template <typename T>
__device__ __forceinline__ uint32_t PackPair(float lo, float hi) {
  T v[2] = {FromFloat<T>(lo), FromFloat<T>(hi)};
  uint32_t out;
  memcpy(&out, v, sizeof(out));
  return out;
}

// Element idx of a GEMM output of fp32 (kF32Out) or 16-bit elements.
template <typename T, bool kF32Out>
__device__ __forceinline__ void StoreOut(void* out, int64_t idx, float v) {
  if (kF32Out) {
    static_cast<float*>(out)[idx] = v;
  } else {
    static_cast<T*>(out)[idx] = FromFloat<T>(v);
  }
}

}  // namespace corvid::kernels

#endif  // CORVID_KERNELS_MMA_UTILS_CUH_
