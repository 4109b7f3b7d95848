// Causal grouped-query attention over the paged KV cache, and the writes into it.
#ifndef CORVID_ENGINE_CPU_ATTENTION_H_
#define CORVID_ENGINE_CPU_ATTENTION_H_

#include <cstdint>

namespace corvid {

// One layer's paged KV storage. Per block and KV head, K is stored [head_dim][block_size]
// (positions innermost, so the scores of a block's positions are lane-parallel FMAs with no
// horizontal sums) and V is stored [block_size][head_dim].
struct PagedKvLayer {
  float* k = nullptr;  // [num_blocks][num_kv_heads][head_dim][block_size]
  float* v = nullptr;  // [num_blocks][num_kv_heads][block_size][head_dim]
  int block_size = 0;
  int num_kv_heads = 0;
  int head_dim = 0;

  int64_t BlockFloats() const { return int64_t{num_kv_heads} * head_dim * block_size; }
  float* KHead(int32_t block, int h) const {
    return k + block * BlockFloats() + int64_t{h} * head_dim * block_size;
  }
  float* VHead(int32_t block, int h) const {
    return v + block * BlockFloats() + int64_t{h} * block_size * head_dim;
  }
};

// Where one query token of a step lives: its sequence's block table and its position. It
// attends to positions [0, position] of that sequence.
struct TokenKv {
  const int32_t* block_table = nullptr;
  int32_t position = 0;
};

// Stores one token's K and V rows (num_kv_heads * head_dim floats each) into its slot.
void WriteKvRow(const PagedKvLayer& kv, const TokenKv& token, const float* k, const float* v);

// Work-shared (see cpu_parallel.h). Stores every token's K and V rows (num_kv_heads * head_dim
// floats at k + t * row_stride and v + t * row_stride) into its position's slot.
void WriteKv(const PagedKvLayer& kv, const TokenKv* tokens, int num_tokens, const float* k,
             const float* v, int row_stride);

struct AttentionArgs {
  const float* q = nullptr;  // [T, q_stride]; query head h at h * head_dim
  int q_stride = 0;
  int num_heads = 0;  // a multiple of kv.num_kv_heads
  const PagedKvLayer* kv = nullptr;
  const TokenKv* tokens = nullptr;
  int num_tokens = 0;
  float scale = 1.0f;    // applied to q.k
  float* out = nullptr;  // [T, out_stride]; head h at h * head_dim
  int out_stride = 0;
};

// Work-shared. softmax(q.k * scale) . v per query head over positions [0, position] (the K/V
// of every position must already be in the cache, including this step's tokens). Each q.k is a
// sequential FMA chain over head_dim, each output a sequential FMA chain over positions divided
// by the softmax sum: it depends only on its own q and its sequence's cache, never on the rest
// of the batch or the block size.
void Attention(const AttentionArgs& a);

}  // namespace corvid

#endif  // CORVID_ENGINE_CPU_ATTENTION_H_
