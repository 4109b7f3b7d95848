// Device pieces of the RoPE/KV write shared by rope_kv.cu and the decode-attention kernel that
// fuses it (decode_attention_wide.cu): both must write the same bits into the cache and the
// query, so the arithmetic lives here once, with explicit roundings (no contraction into FMAs
// that the compiler might choose differently in the two kernels).
#ifndef CORVID_KERNELS_ROPE_KV_CUH_
#define CORVID_KERNELS_ROPE_KV_CUH_

#include "kernels/cuda_utils.cuh"

namespace corvid::kernels {

// Element i of a QKV row plus the optional bias, in float.
template <typename T>
__device__ __forceinline__ float LoadBiased(const T* row, const T* bias, int i) {
  float v = ToFloat(row[i]);
  if (bias) v = __fadd_rn(v, ToFloat(bias[i]));
  return v;
}

// Sine and cosine of the rotation of pair i at position pos.
__device__ __forceinline__ void RopeAngle(float pos, float inv_freq, float* s, float* c) {
  sincosf(__fmul_rn(pos, inv_freq), s, c);
}

// Rotate-half: (x1, x2) = elements (i, i + head_dim / 2) of one head.
__device__ __forceinline__ void RopeRotate(float x1, float x2, float s, float c, float* y1,
                                           float* y2) {
  *y1 = __fsub_rn(__fmul_rn(x1, c), __fmul_rn(x2, s));
  *y2 = __fadd_rn(__fmul_rn(x2, c), __fmul_rn(x1, s));
}

}  // namespace corvid::kernels

#endif  // CORVID_KERNELS_ROPE_KV_CUH_
