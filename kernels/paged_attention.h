// Launch API of attention over the paged KV cache (layout in rope_kv.h), with grouped-query
// heads (num_heads a multiple of num_kv_heads; query head h reads KV head h / group).
//
// Two kernels:
//  * Rows (decode): every "row" is one query token that sees the first row_ctx[row] keys of
//    sequence row_seq[row]. One block per (split, KV head, row) processes all query heads of
//    the group, so K and V are read once per KV head; long contexts are split across blocks
//    (split-KV) and merged by the last block of each row to finish (with split_counters) or by
//    a second kernel. Any head_dim from 8 to 256 (power of 2); 64 and 128 with up to 16 query
//    heads per KV head run on tensor cores.
//    Also the fallback prefill for head_dims the tensor-core kernel does not cover (one row
//    per query token, row_ctx = position + 1).
//  * Prefill: FlashAttention-2 style, causal, tensor cores (mma.sync m16n8k16), tiles of 128
//    queries of one sequence by 64 keys read straight from the paged cache. Chunked-prefill
//    aware: query i of sequence s sits at position ctx_len[s] - q_len(s) + i and sees keys
//    0..position. head_dim 64 or 128.
#ifndef CORVID_KERNELS_PAGED_ATTENTION_H_
#define CORVID_KERNELS_PAGED_ATTENTION_H_

#include <cstdint>

#include "kernels/kernel_api.h"

namespace corvid::kernels {

struct PagedKvView {
  const void* k_cache = nullptr;
  const void* v_cache = nullptr;
  const int32_t* block_indptr = nullptr;  // [num_seqs + 1] into block_ids
  const int32_t* block_ids = nullptr;
  int num_kv_heads = 0;
  int block_size = 0;
};

struct DecodeAttentionParams {
  const void* q = nullptr;  // [tokens, num_heads, head_dim]
  void* out = nullptr;      // [tokens, num_heads, head_dim]
  PagedKvView kv;
  const int32_t* row_token = nullptr;  // [num_rows] token (q/out row) of each row; nullptr = row
  // [num_rows] sequence of each row; nullptr = row index. block_indptr[seq] is read for every
  // row (also rows with no keys), so it must exist for each.
  const int32_t* row_seq = nullptr;
  const int32_t* row_ctx = nullptr;    // [num_rows] visible keys; 0 writes a zero output
  // Split-KV: a row with ctx keys is cut into n = DecodeSplits(ctx, split_tokens, split_cap)
  // ranges of DecodeSplitKeys keys, one block each, merged by a second kernel or inside the
  // launch. The cut depends only on ctx, never on the batch, so a row's result is
  // batch-invariant. split_tokens 0 = one block per row.
  int split_tokens = 0;
  int split_cap = 1;
  int max_splits = 1;  // the grid: >= DecodeSplits(ctx) of every row, <= split_cap
  float* partial_out = nullptr;  // [num_rows, num_heads, max_splits, head_dim] when max_splits > 1
  float* partial_ml = nullptr;   // [num_rows, num_heads, max_splits, 2] when max_splits > 1
  // Optional, [num_rows * num_kv_heads], all zero before the launch and left zero after it:
  // with it the splits are merged inside the same launch (tensor-core kernel only).
  int* split_counters = nullptr;
  // 1: the preceding kernel on the stream writes at most the newest key (row_ctx - 1) of each
  // row, so the tensor-core kernel may read the older keys before that kernel completes
  // (programmatic dependent launch). True of single-token decode rows.
  int prefetch_kv = 0;
  // Optional RoPE/KV write fused into the launch (tensor-core wide kernel, single-token rows;
  // DecodeAttentionFusesRope says when): with rope_qkv set, q is not read. Row r's query heads
  // come from row row_token[r] of rope_qkv (the QKV projection, [tokens, (num_heads + 2 *
  // num_kv_heads) * head_dim], plus rope_bias when set), rotated at position row_ctx[r] - 1 as
  // rope_kv.h does, and the row's newest key (that position: K rotated, V as is) is written into
  // the cache through the block table and used from registers: no separate RopeKv launch. The
  // bits equal those of LaunchRopeKv followed by the unfused launch.
  const void* rope_qkv = nullptr;
  const void* rope_bias = nullptr;
  const float* rope_inv_freq = nullptr;  // [head_dim / 2]
  int num_rows = 0;
  int num_heads = 0;
  int head_dim = 0;
  float scale = 0.0f;  // softmax scale, usually 1 / sqrt(head_dim)
};

// Floats of partial_out and partial_ml needed for (rows, heads, splits, head_dim).
inline int64_t DecodePartialOutFloats(int rows, int heads, int splits, int head_dim) {
  return static_cast<int64_t>(rows) * heads * splits * head_dim;
}
inline int64_t DecodePartialMlFloats(int rows, int heads, int splits) {
  return static_cast<int64_t>(rows) * heads * splits * 2;
}
// Split-KV cut of a row with ctx keys: at most split_cap ranges of about split_tokens keys,
// each a multiple of kDecodeSplitAlign keys (whole 64-key tiles of the tensor-core kernels)
// except the last. Split s covers [s * keys, min(ctx, (s + 1) * keys)).
constexpr int kDecodeSplitAlign = 64;
CORVID_KERNEL_HD inline int DecodeSplitKeys(int ctx, int split_tokens, int split_cap) {
  if (split_tokens <= 0 || ctx <= split_tokens) return ctx;
  int n = (ctx + split_tokens - 1) / split_tokens;
  n = n < split_cap ? n : split_cap;
  const int per = (ctx + n - 1) / n;
  return (per + kDecodeSplitAlign - 1) / kDecodeSplitAlign * kDecodeSplitAlign;
}
CORVID_KERNEL_HD inline int DecodeSplits(int ctx, int split_tokens, int split_cap) {
  const int keys = DecodeSplitKeys(ctx, split_tokens, split_cap);
  return keys <= 0 ? 1 : (ctx + keys - 1) / keys;
}
bool DecodeAttentionSupports(int head_dim, int group);
// True when LaunchDecodeAttention accepts rope_qkv for this shape (the wide tensor-core kernel,
// not CORVID_DECODE_ATTN=warp4) and CORVID_FUSED_ROPE is not 0 (A/B timing).
bool DecodeAttentionFusesRope(int head_dim, int group);

KernelError LaunchDecodeAttention(DataType dtype, const DecodeAttentionParams& p,
                                  StreamHandle stream);

struct PrefillAttentionParams {
  const void* q = nullptr;  // [num_tokens, num_heads, head_dim], sequences back to back
  void* out = nullptr;      // [num_tokens, num_heads, head_dim]
  PagedKvView kv;
  const int32_t* qo_indptr = nullptr;  // [num_seqs + 1] first query token of each sequence
  const int32_t* ctx_len = nullptr;    // [num_seqs] keys in the cache after this step
  // [num_tiles * 2]: (sequence, first query index within the sequence) of each tile of
  // kPrefillTileQueries queries.
  const int32_t* tiles = nullptr;
  int num_tiles = 0;
  int num_heads = 0;
  int head_dim = 0;
  float scale = 0.0f;
};

constexpr int kPrefillTileQueries = 128;
bool PrefillAttentionSupports(int head_dim);

KernelError LaunchPrefillAttention(DataType dtype, const PrefillAttentionParams& p,
                                   StreamHandle stream);

}  // namespace corvid::kernels

#endif  // CORVID_KERNELS_PAGED_ATTENTION_H_
