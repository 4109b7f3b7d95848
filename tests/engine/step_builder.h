// Test helper: drives a Backend directly, the way the engine would, with trivially assigned KV
// blocks. Shared by backend tests (CPU here; a GPU backend test can reuse it).
#ifndef CORVID_TESTS_ENGINE_STEP_BUILDER_H_
#define CORVID_TESTS_ENGINE_STEP_BUILDER_H_

#include <cstdint>
#include <vector>

#include "engine/backend.h"

namespace corvid::testing {

// One sequence's state across steps. Blocks are [first_block, first_block + n): each sequence
// gets its own disjoint range.
struct TestSeq {
  int64_t id = 0;
  int32_t first_block = 0;
  std::vector<int32_t> prompt;
  std::vector<int32_t> output;
  SamplingParams sampling;
  int32_t context_len = 0;  // tokens already in the cache
};

// What one sequence contributes to a step.
struct Chunk {
  TestSeq* seq;
  std::vector<int32_t> tokens;
  bool sample;
};

// A StepBatch for the chunks, in order. Each sequence's block table covers its context after
// the step; context_len of every sequence advances.
inline StepBatch BuildStep(const std::vector<Chunk>& chunks, int block_size,
                           bool return_logits = true) {
  StepBatch b;
  b.return_logits = return_logits;
  b.block_indptr.push_back(0);
  for (const Chunk& c : chunks) {
    StepSequence s;
    s.seq_id = c.seq->id;
    s.num_query_tokens = static_cast<int32_t>(c.tokens.size());
    s.context_len = c.seq->context_len + s.num_query_tokens;
    s.sample = c.sample;
    s.sampling = &c.seq->sampling;
    s.prompt = &c.seq->prompt;
    s.output = &c.seq->output;
    for (int32_t t = 0; t < s.num_query_tokens; ++t) {
      b.token_ids.push_back(c.tokens[t]);
      b.positions.push_back(c.seq->context_len + t);
    }
    const int32_t blocks = (s.context_len + block_size - 1) / block_size;
    for (int32_t j = 0; j < blocks; ++j) b.block_ids.push_back(c.seq->first_block + j);
    b.block_indptr.push_back(static_cast<int32_t>(b.block_ids.size()));
    b.seqs.push_back(s);
    c.seq->context_len = s.context_len;
  }
  return b;
}

}  // namespace corvid::testing

#endif  // CORVID_TESTS_ENGINE_STEP_BUILDER_H_
