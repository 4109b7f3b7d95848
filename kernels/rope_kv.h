// Launch API of the kernel that follows the fused QKV projection: adds the optional bias,
// applies rotary embeddings (rotate-half convention, per-pair inverse frequencies computed on
// the host, so Llama 3 scaling is just a different table) to Q and K, writes Q to `q_out` and
// K, V into the paged cache.
//
// Paged cache layout (per layer, K and V separately): [num_blocks][num_kv_heads][block_size]
// [head_dim]. Token t is stored at slot slot_mapping[t] = block * block_size + offset; a slot
// of -1 skips the cache write (padding rows of a captured batch).
#ifndef CORVID_KERNELS_ROPE_KV_H_
#define CORVID_KERNELS_ROPE_KV_H_

#include <cstdint>

#include "kernels/kernel_api.h"

namespace corvid::kernels {

struct RopeKvParams {
  const void* qkv = nullptr;   // [num_tokens, (num_heads + 2 * num_kv_heads) * head_dim]
  const void* bias = nullptr;  // optional, [(num_heads + 2 * num_kv_heads) * head_dim]
  const int32_t* positions = nullptr;     // [num_tokens]
  const int32_t* slot_mapping = nullptr;  // [num_tokens]
  const float* inv_freq = nullptr;        // [head_dim / 2]
  void* q_out = nullptr;                  // [num_tokens, num_heads * head_dim]
  void* k_cache = nullptr;
  void* v_cache = nullptr;
  int num_tokens = 0;
  int num_heads = 0;
  int num_kv_heads = 0;
  int head_dim = 0;  // even
  int block_size = 0;
};

KernelError LaunchRopeKv(DataType dtype, const RopeKvParams& p, StreamHandle stream);

}  // namespace corvid::kernels

#endif  // CORVID_KERNELS_ROPE_KV_H_
