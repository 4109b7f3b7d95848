// One live request inside the engine: its request, what it has generated, and how much of its
// token history is in the KV cache. Owned by the engine; the planner and the batch builder hold
// plain pointers to it for the duration of a step.
#ifndef CORVID_ENGINE_SEQUENCE_H_
#define CORVID_ENGINE_SEQUENCE_H_

#include <cstdint>
#include <vector>

#include "engine/engine.h"
#include "engine/prefix_hash.h"

namespace corvid {

struct Sequence {
  enum class State { kWaiting, kRunning };

  GenerationRequest request;   // sampling.seed is always set (drawn when the caller gave none)
  std::vector<int32_t> output;  // tokens generated so far, never re-emitted after preemption
  State state = State::kWaiting;
  // Tokens (of prompt + output, in order) whose KV is in the cache. Reset to 0 on preemption:
  // the recompute prompt is then prompt + output.
  int num_computed = 0;
  // num_tokens() when last admitted: the (recompute) prompt that the prefill must cover. Once
  // num_computed reaches it the sequence is decoding.
  int prefill_len = 0;
  // Admission order among running sequences; the highest is the first preemption victim.
  int64_t admitted_at = -1;
  // Prefix caching: chain hashes of the full blocks of the history computed so far. The
  // history only grows (prompt, then output), so they stay valid across preemptions.
  std::vector<uint64_t> block_hashes;

  int64_t id() const { return request.id; }
  int num_tokens() const {
    return static_cast<int>(request.prompt.size() + output.size());
  }
  // Token i of prompt + output.
  int32_t token(int i) const {
    const int p = static_cast<int>(request.prompt.size());
    return i < p ? request.prompt[i] : output[i - p];
  }
  // Tokens still to be fed to the model before the next sample: the rest of the (recompute)
  // prompt while prefilling, 1 while decoding.
  int num_pending() const { return num_tokens() - num_computed; }
  bool decoding() const { return state == State::kRunning && num_computed >= prefill_len; }
  // Extends block_hashes to cover every full block of the first `n` history tokens.
  void HashBlocks(int n, int block_size) {
    std::vector<int32_t> tokens(block_size);
    for (int b = static_cast<int>(block_hashes.size()); (b + 1) * block_size <= n; ++b) {
      for (int s = 0; s < block_size; ++s) tokens[s] = token(b * block_size + s);
      const uint64_t parent = b == 0 ? kPrefixHashRoot : block_hashes[b - 1];
      block_hashes.push_back(HashKvBlock(parent, tokens.data(), block_size));
    }
  }
};

}  // namespace corvid

#endif  // CORVID_ENGINE_SEQUENCE_H_
