// The one vector abstraction of the CPU backend: a register of kLanes floats and the handful of
// operations its kernels need (AVX-512, AVX2+FMA, or portable scalar code).
//
// Why one abstraction: batch invariance. Every dot product in the backend is computed by the
// same sequence (one accumulator register, k ascending, a masked tail, then VSum's fixed tree),
// whatever the tile or thread that computes it, so a row's result never depends on the batch.
#ifndef CORVID_ENGINE_CPU_SIMD_H_
#define CORVID_ENGINE_CPU_SIMD_H_

#include <cmath>

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
// GCC 12 reports its own _mm512_undefined_ps() inside these intrinsics as uninitialized (a
// false positive fixed in GCC 13); the warning's location is the header, so silence it there.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
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
inline VecF VAdd(VecF a, VecF b) { return _mm512_add_ps(a, b); }
inline VecF VMul(VecF a, VecF b) { return _mm512_mul_ps(a, b); }
inline VecF VDiv(VecF a, VecF b) { return _mm512_div_ps(a, b); }
inline VecF VSub(VecF a, VecF b) { return _mm512_sub_ps(a, b); }
inline VecF VMax(VecF a, VecF b) { return _mm512_max_ps(a, b); }
inline VecF VMin(VecF a, VecF b) { return _mm512_min_ps(a, b); }
inline float VMaxLanes(VecF v) { return _mm512_reduce_max_ps(v); }
// 2^n * p for integral-valued n (scalef also saturates: huge n -> inf, tiny n -> 0).
inline VecF VScale2(VecF p, VecF n) { return _mm512_scalef_ps(p, n); }
inline VecF VRound(VecF x) {
  return _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
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
inline VecF VAdd(VecF a, VecF b) { return _mm256_add_ps(a, b); }
inline VecF VMul(VecF a, VecF b) { return _mm256_mul_ps(a, b); }
inline VecF VDiv(VecF a, VecF b) { return _mm256_div_ps(a, b); }
inline VecF VSub(VecF a, VecF b) { return _mm256_sub_ps(a, b); }
inline VecF VMax(VecF a, VecF b) { return _mm256_max_ps(a, b); }
inline VecF VMin(VecF a, VecF b) { return _mm256_min_ps(a, b); }
inline float VMaxLanes(VecF v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
  return _mm_cvtss_f32(m);
}
inline VecF VScale2(VecF p, VecF n) {
  // VExp keeps n in [-127, 128]: 2^n is built from its exponent bits (n = -127 gives 0,
  // n = 128 gives inf).
  const __m256i e =
      _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}
inline VecF VRound(VecF x) {
  return _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
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
inline VecF VAdd(VecF a, VecF b) {
  for (int i = 0; i < kLanes; ++i) a.v[i] += b.v[i];
  return a;
}
inline VecF VMul(VecF a, VecF b) {
  for (int i = 0; i < kLanes; ++i) a.v[i] *= b.v[i];
  return a;
}
inline VecF VSub(VecF a, VecF b) {
  for (int i = 0; i < kLanes; ++i) a.v[i] -= b.v[i];
  return a;
}
inline VecF VDiv(VecF a, VecF b) {
  for (int i = 0; i < kLanes; ++i) a.v[i] /= b.v[i];
  return a;
}
inline VecF VMax(VecF a, VecF b) {
  for (int i = 0; i < kLanes; ++i) a.v[i] = a.v[i] > b.v[i] ? a.v[i] : b.v[i];
  return a;
}
inline VecF VMin(VecF a, VecF b) {
  for (int i = 0; i < kLanes; ++i) a.v[i] = a.v[i] < b.v[i] ? a.v[i] : b.v[i];
  return a;
}
inline float VMaxLanes(VecF v) {
  float m = v.v[0];
  for (int i = 1; i < kLanes; ++i) m = v.v[i] > m ? v.v[i] : m;
  return m;
}
inline VecF VScale2(VecF p, VecF n) {
  for (int i = 0; i < kLanes; ++i) p.v[i] = std::ldexp(p.v[i], static_cast<int>(n.v[i]));
  return p;
}
inline VecF VRound(VecF x) {
  for (int i = 0; i < kLanes; ++i) x.v[i] = std::nearbyint(x.v[i]);
  return x;
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
    VStorePartial(y + k, VFma(sv, VLoadPartial(x + k, n - k), VLoadPartial(y + k, n - k)), n - k);
  }
}

// e^x per lane, within about 1 ulp over the float range: x = n ln2 + r with |r| <= ln2/2 (ln2
// split in two so that the reduction is exact), e^r by its degree-7 Taylor polynomial (error
// below 1e-8 relative on that range), then scaled by 2^n. x >= 88.8 gives inf; x <= -88 gives
// 0 or a subnormal (as does -inf); NaN gives 0.
inline VecF VExp(VecF x) {
  x = VMin(VMax(x, VSet1(-88.0f)), VSet1(88.8f));
  const VecF n = VRound(VMul(x, VSet1(1.44269504088896341f)));
  VecF r = VFma(n, VSet1(-0.693359375f), x);  // high part of ln2: n * it is exact
  r = VFma(n, VSet1(2.12194440e-4f), r);      // low part
  VecF p = VSet1(1.0f / 5040.0f);
  p = VFma(p, r, VSet1(1.0f / 720.0f));
  p = VFma(p, r, VSet1(1.0f / 120.0f));
  p = VFma(p, r, VSet1(1.0f / 24.0f));
  p = VFma(p, r, VSet1(1.0f / 6.0f));
  p = VFma(p, r, VSet1(0.5f));
  p = VFma(p, r, VSet1(1.0f));
  p = VFma(p, r, VSet1(1.0f));
  return VScale2(p, n);
}

}  // namespace corvid::simd

#endif  // CORVID_ENGINE_CPU_SIMD_H_
