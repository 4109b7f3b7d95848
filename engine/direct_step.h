// Drives a Backend directly, without the Engine: each sequence owns a contiguous range of KV
// blocks and the caller says which tokens it feeds per step. For backend tests, benchmarks and
// reference tools; serving goes through the Engine and its block manager.
#ifndef CORVID_ENGINE_DIRECT_STEP_H_
#define CORVID_ENGINE_DIRECT_STEP_H_

#include <cstdint>
#include <vector>

#include "engine/backend.h"

namespace corvid {

// One sequence's state across steps. Its blocks are [first_block, first_block + n): ranges of
// different sequences must not overlap.
struct DirectSeq {
  int64_t id = 0;
  int32_t first_block = 0;
  std::vector<int32_t> prompt;
  std::vector<int32_t> output;
  SamplingParams sampling;
  int32_t context_len = 0;  // tokens already in the cache
};

// What one sequence contributes to a step.
struct StepChunk {
  DirectSeq* seq;
  std::vector<int32_t> tokens;
  bool sample;
};

// Appends `chunk` to `batch` (whose block_indptr must already hold its leading 0): its tokens at
// the next positions and a block table covering the context after the step. Advances the
// sequence's context_len.
inline void AppendChunk(const StepChunk& chunk, int block_size, StepBatch* batch) {
  DirectSeq& seq = *chunk.seq;
  StepSequence s;
  s.seq_id = seq.id;
  s.num_query_tokens = static_cast<int32_t>(chunk.tokens.size());
  s.context_len = seq.context_len + s.num_query_tokens;
  s.sample = chunk.sample;
  s.sampling = &seq.sampling;
  s.prompt = &seq.prompt;
  s.output = &seq.output;
  for (int32_t t = 0; t < s.num_query_tokens; ++t) {
    batch->token_ids.push_back(chunk.tokens[t]);
    batch->positions.push_back(seq.context_len + t);
  }
  const int32_t blocks = (s.context_len + block_size - 1) / block_size;
  for (int32_t j = 0; j < blocks; ++j) batch->block_ids.push_back(seq.first_block + j);
  batch->block_indptr.push_back(static_cast<int32_t>(batch->block_ids.size()));
  batch->seqs.push_back(s);
  seq.context_len = s.context_len;
}

// A StepBatch for `chunks`, in order.
inline StepBatch BuildStep(const std::vector<StepChunk>& chunks, int block_size,
                           bool return_logits = true) {
  StepBatch b;
  b.return_logits = return_logits;
  b.block_indptr.push_back(0);
  for (const StepChunk& c : chunks) AppendChunk(c, block_size, &b);
  return b;
}

}  // namespace corvid

#endif  // CORVID_ENGINE_DIRECT_STEP_H_
