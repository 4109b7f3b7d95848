// The one vector abstraction of the CPU backend: a register of kLanes floats and the handful of
// operations its kernels need (AVX-512, AVX2+FMA, or portable scalar code).
//
// Why one abstraction: batch invariance. Every dot product in the backend is computed by the
// same sequence (one accumulator register, k ascending, a masked tail, then VSum's fixed tree),
// whatever the tile or thread that computes it, so a row's result never depends on the batch.
#ifndef CORVID_ENGINE_CPU_SIMD_H_
#define CORVID_ENGINE_CPU_SIMD_H_

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif

namespace corvid::simd {

#if defined(__AVX512F__)

constexpr int kLanes = 16;
using VecF = __m512;
inline VecF VZero() { return _mm512_setzero_ps(); }
inline VecF VSet1(float x) { return _mm512_set1_ps(x); }
inline VecF VLoad(const float* p) { return _mm512_loadu_ps(p); }
// Loads p[0..n) (0 < n < kLanes), zeros elsewhere; never touches p[n..].
inline VecF VLoadPartial(const float* p, int n) {
  return _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << n) - 1u), p);
}
inline void VStore(float* p, VecF v) { _mm512_storeu_ps(p, v); }
inline void VStorePartial(float* p, VecF v, int n) {
  _mm512_mask_storeu_ps(p, static_cast<__mmask16>((1u << n) - 1u), v);
}
inline VecF VFma(VecF a, VecF b, VecF c) { return _mm512_fmadd_ps(a, b, c); }
inline float VSum(VecF v) {
  // Halves through memory: GCC 12's 512->256 extract/cast intrinsics trip a -Wuninitialized
  // false positive, and store-to-load forwarding makes this as cheap.
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, v);
  const __m256 s8 = _mm256_add_ps(_mm256_load_ps(lanes), _mm256_load_ps(lanes + 8));
  const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
  const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
  const __m128 s1 = _mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1));
  return _mm_cvtss_f32(s1);
}

#elif defined(__AVX2__) && defined(__FMA__)

constexpr int kLanes = 8;
using VecF = __m256;
inline VecF VZero() { return _mm256_setzero_ps(); }
inline VecF VSet1(float x) { return _mm256_set1_ps(x); }
inline VecF VLoad(const float* p) { return _mm256_loadu_ps(p); }
inline __m256i TailMask(int n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
inline VecF VLoadPartial(const float* p, int n) { return _mm256_maskload_ps(p, TailMask(n)); }
inline void VStore(float* p, VecF v) { _mm256_storeu_ps(p, v); }
inline void VStorePartial(float* p, VecF v, int n) { _mm256_maskstore_ps(p, TailMask(n), v); }
inline VecF VFma(VecF a, VecF b, VecF c) { return _mm256_fmadd_ps(a, b, c); }
inline float VSum(VecF v) {
  const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
  const __m128 s1 = _mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1));
  return _mm_cvtss_f32(s1);
}

#else

constexpr int kLanes = 8;
struct VecF {
  float v[kLanes];
};
inline VecF VZero() { return VecF{}; }
inline VecF VSet1(float x) {
  VecF r;
  for (float& e : r.v) e = x;
  return r;
}
inline VecF VLoad(const float* p) {
  VecF r;
  for (int i = 0; i < kLanes; ++i) r.v[i] = p[i];
  return r;
}
inline VecF VLoadPartial(const float* p, int n) {
  VecF r{};
  for (int i = 0; i < n; ++i) r.v[i] = p[i];
  return r;
}
inline void VStore(float* p, VecF v) {
  for (int i = 0; i < kLanes; ++i) p[i] = v.v[i];
}
inline void VStorePartial(float* p, VecF v, int n) {
  for (int i = 0; i < n; ++i) p[i] = v.v[i];
}
inline VecF VFma(VecF a, VecF b, VecF c) {
  for (int i = 0; i < kLanes; ++i) c.v[i] = a.v[i] * b.v[i] + c.v[i];
  return c;
}
inline float VSum(VecF v) {
  float s4[4], s2[2];
  for (int i = 0; i < 4; ++i) s4[i] = v.v[i] + v.v[i + 4];
  for (int i = 0; i < 2; ++i) s2[i] = s4[i] + s4[i + 2];
  return s2[0] + s2[1];
}

#endif

// The dot product every kernel uses: one accumulator, k ascending, masked tail, fixed tree.
inline float Dot(const float* a, const float* b, int n) {
  VecF acc = VZero();
  int k = 0;
  for (; k + kLanes <= n; k += kLanes) acc = VFma(VLoad(a + k), VLoad(b + k), acc);
  if (k < n) acc = VFma(VLoadPartial(a + k, n - k), VLoadPartial(b + k, n - k), acc);
  return VSum(acc);
}

// y[0..n) += s * x[0..n), lane-wise; the order over calls is the caller's.
inline void Axpy(float s, const float* x, float* y, int n) {
  const VecF sv = VSet1(s);
  int k = 0;
  for (; k + kLanes <= n; k += kLanes) VStore(y + k, VFma(sv, VLoad(x + k), VLoad(y + k)));
  if (k < n) {
    VStorePartial(y + k, VFma(sv, VLoadPartial(x + k, n - k), VLoadPartial(y + k, n - k)),
                  n - k);
  }
}

}  // namespace corvid::simd

#endif  // CORVID_ENGINE_CPU_SIMD_H_
