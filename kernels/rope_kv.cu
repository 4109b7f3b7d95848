// Bias + RoPE + paged KV write (see rope_kv.h). Grid (token, chunk of kThreads pairs): at batch
// 1 a token's 40 heads spread over 20 blocks instead of looping in one. Each thread handles a
// rotation pair (i, i + head_dim / 2), so both halves are read before either is written, and
// one V element. Launched as a dependent of the QKV GEMM (pdl.cuh).
#include "kernels/cuda_utils.cuh"
#include "kernels/pdl.cuh"
#include "kernels/rope_kv.cuh"
#include "kernels/rope_kv.h"

namespace corvid::kernels {
namespace {

constexpr int kThreads = 128;

// The angles come from step metadata, not from the QKV GEMM this kernel depends on: they are
// computed before waiting for it. The attention kernel after this one may start at once
// (TriggerDependents): it reads this step's keys only after its own wait.
template <typename T>
__global__ void RopeKvKernel(RopeKvParams p) {
  TriggerDependents();
  const int t = blockIdx.x;
  const int d = p.head_dim, half = d / 2;
  const int qkv_width = (p.num_heads + 2 * p.num_kv_heads) * d;
  const T* row = static_cast<const T*>(p.qkv) + static_cast<int64_t>(t) * qkv_width;
  const T* bias = static_cast<const T*>(p.bias);
  const float pos = static_cast<float>(p.positions[t]);
  const int slot = p.slot_mapping[t];
  T* q_out = static_cast<T*>(p.q_out) + static_cast<int64_t>(t) * p.num_heads * d;
  T* k_cache = static_cast<T*>(p.k_cache);
  T* v_cache = static_cast<T*>(p.v_cache);
  int64_t block = 0, offset = 0;
  if (slot >= 0) {
    block = slot / p.block_size;
    offset = slot % p.block_size;
  }
  // Rotations: query heads then key heads, half a head's worth of pairs each.
  const int num_pairs = (p.num_heads + p.num_kv_heads) * half;
  const int j0 = blockIdx.y * kThreads + threadIdx.x;
  for (int j = j0; j < num_pairs; j += kThreads * gridDim.y) {
    const int head = j / half, i = j % half;
    const int base = head * d;  // q heads first, then k heads, in the qkv row
    float s, c, y1, y2;
    RopeAngle(pos, p.inv_freq[i], &s, &c);
    WaitForPrimary();
    RopeRotate(LoadBiased(row, bias, base + i), LoadBiased(row, bias, base + i + half), s, c,
               &y1, &y2);
    if (head < p.num_heads) {
      q_out[base + i] = FromFloat<T>(y1);
      q_out[base + i + half] = FromFloat<T>(y2);
    } else if (slot >= 0) {
      const int kvh = head - p.num_heads;
      T* dst = k_cache + ((block * p.num_kv_heads + kvh) * p.block_size + offset) * d;
      dst[i] = FromFloat<T>(y1);
      dst[i + half] = FromFloat<T>(y2);
    }
  }
  WaitForPrimary();
  if (slot < 0) return;
  const int v_base = (p.num_heads + p.num_kv_heads) * d;
  for (int j = j0; j < p.num_kv_heads * d; j += kThreads * gridDim.y) {
    const int kvh = j / d, i = j % d;
    T* dst = v_cache + ((block * p.num_kv_heads + kvh) * p.block_size + offset) * d;
    dst[i] = FromFloat<T>(LoadBiased(row, bias, v_base + j));
  }
}

}  // namespace

KernelError LaunchRopeKv(DataType dtype, const RopeKvParams& p, StreamHandle stream) {
  if (p.num_tokens == 0) return kKernelOk;
  if (p.head_dim <= 0 || p.head_dim % 2 != 0 || p.block_size <= 0) return kKernelInvalidValue;
  const int pairs = (p.num_heads + p.num_kv_heads) * (p.head_dim / 2);
  const int items = pairs > p.num_kv_heads * p.head_dim ? pairs : p.num_kv_heads * p.head_dim;
  const int chunks = (items + kThreads - 1) / kThreads;
  const dim3 grid(p.num_tokens, chunks < 65535 ? chunks : 65535);
  return CORVID_DISPATCH_HALF(dtype, T, [&] {
    return LaunchPdl(RopeKvKernel<T>, grid, dim3(kThreads), 0, AsStream(stream), p);
  });
}

}  // namespace corvid::kernels
