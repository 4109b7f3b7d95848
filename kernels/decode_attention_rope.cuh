// The RoPE/KV write fused into the wide decode-attention kernel (DecodeAttentionParams::
// rope_qkv): instead of a separate kernel rotating every token's q and k and scattering k and v
// into the paged cache, each block rotates the query heads of its group straight into shared
// memory, and the one block per (row, KV head) whose split holds the row's newest key rotates
// that key, writes it and its value into the cache (for later steps) and into its own shared
// memory (for this step). The arithmetic is rope_kv.cuh's, so the bits equal the unfused path.
#ifndef CORVID_KERNELS_DECODE_ATTENTION_ROPE_CUH_
#define CORVID_KERNELS_DECODE_ATTENTION_ROPE_CUH_

#include "kernels/decode_attention_internal.cuh"
#include "kernels/rope_kv.cuh"

namespace corvid::kernels {

// Where the fused RoPE puts its results in shared memory; `at(r, i)` is the element offset of
// element i of row r in a [rows][D] tile (the kernel's swizzle).
template <typename T>
struct FusedRopeDst {
  T* q;       // [kRows][D]: the group's query heads, rows past the group zeroed
  T* k_new;   // the tile (K) that holds the newest key
  T* v_new;   // the tile (V) that holds the newest key
  int r_new;  // the newest key's row in those tiles
};

// Rotates the group's query heads (row `token` of rope_qkv, position newest) into dst.q and,
// when `has_new`, the newest key of KV head kvh into dst.k_new / dst.v_new and into the cache.
// kRows rows of dst.q are written (zeros past `group`). Plain shared stores: the caller's next
// barrier publishes them.
template <typename T, int D, int kThreads, int kRows, typename Addr>
__device__ __forceinline__ void FusedRope(const DecodeAttentionParams& p, const int32_t* blocks,
                                          int token, int kvh, int group, int newest,
                                          bool has_new, const FusedRopeDst<T>& dst, Addr at) {
  constexpr int kHalf = D / 2;
  const int hkv = p.kv.num_kv_heads;
  const T* row = static_cast<const T*>(p.rope_qkv) +
                 static_cast<int64_t>(token) * (p.num_heads + 2 * hkv) * D;
  const T* bias = static_cast<const T*>(p.rope_bias);
  const float pos = static_cast<float>(newest);
  T* kc = static_cast<T*>(const_cast<void*>(p.kv.k_cache));
  T* vc = static_cast<T*>(const_cast<void*>(p.kv.v_cache));
  const int64_t cache_off = has_new ? KeyRowOffset<D>(p, blocks, kvh, newest) : 0;
  const int q_pairs = group * kHalf;
  const int pairs = q_pairs + (has_new ? kHalf : 0);
  for (int j = threadIdx.x; j < pairs; j += kThreads) {
    const bool is_q = j < q_pairs;
    const int r = is_q ? j / kHalf : 0, i = j % kHalf;
    const int src = (is_q ? kvh * group + r : p.num_heads + kvh) * D;
    float s, c, y1, y2;
    RopeAngle(pos, p.rope_inv_freq[i], &s, &c);
    RopeRotate(LoadBiased(row, bias, src + i), LoadBiased(row, bias, src + i + kHalf), s, c, &y1,
               &y2);
    const T a = FromFloat<T>(y1), b = FromFloat<T>(y2);
    if (is_q) {
      dst.q[at(r, i)] = a;
      dst.q[at(r, i + kHalf)] = b;
    } else {
      dst.k_new[at(dst.r_new, i)] = a;
      dst.k_new[at(dst.r_new, i + kHalf)] = b;
      kc[cache_off + i] = a;
      kc[cache_off + i + kHalf] = b;
    }
  }
  for (int idx = threadIdx.x; idx < (kRows - group) * (D / 8); idx += kThreads) {
    const int r = group + idx / (D / 8), c = idx % (D / 8);
    *reinterpret_cast<uint4*>(dst.q + at(r, c * 8)) = make_uint4(0u, 0u, 0u, 0u);  // whole chunk
  }
  if (!has_new) return;
  const int v_src = (p.num_heads + hkv + kvh) * D;
  for (int i = threadIdx.x; i < D; i += kThreads) {
    const T v = FromFloat<T>(LoadBiased(row, bias, v_src + i));
    dst.v_new[at(dst.r_new, i)] = v;
    vc[cache_off + i] = v;
  }
}

}  // namespace corvid::kernels

#endif  // CORVID_KERNELS_DECODE_ATTENTION_ROPE_CUH_
