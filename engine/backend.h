// The boundary between the engine loop (host policy) and a compute backend (CPU or CUDA).
//
// The engine decides *what* runs in a step (which sequences, how many tokens each, which KV
// blocks they own); the backend computes the forward pass over the paged KV cache and samples
// one token for every sequence that asks for one. Backends own the KV storage; the engine owns
// the block allocation (KvBlockManager) and hands the block tables in every step.
#ifndef CORVID_ENGINE_BACKEND_H_
#define CORVID_ENGINE_BACKEND_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "engine/model_config.h"
#include "engine/sampling_params.h"

namespace corvid {

// One sequence's share of a step. Its query tokens are a contiguous run of StepBatch::token_ids.
struct StepSequence {
  int64_t seq_id = 0;
  int32_t num_query_tokens = 0;  // prefill chunk length, or 1 for a decode
  int32_t context_len = 0;       // tokens in the KV cache once this step has run (cached + new)
  // True when the step's last query token must produce a sampled token (last prefill chunk or a
  // decode); false for an intermediate prefill chunk, whose logits are never computed.
  bool sample = false;
  const SamplingParams* sampling = nullptr;       // valid when sample
  const std::vector<int32_t>* prompt = nullptr;   // for the repetition penalty
  const std::vector<int32_t>* output = nullptr;   // tokens generated so far (penalties, RNG counter)
};

// A step's work in the flat form kernels want. Query token t of sequence i sits at position
// context_len - num_query_tokens + t, and position p of sequence i is stored in KV block
// block_ids[block_indptr[i] + p / block_size] at slot p % block_size.
struct StepBatch {
  std::vector<int32_t> token_ids;  // [total query tokens], sequences in order
  std::vector<int32_t> positions;  // [total query tokens]
  std::vector<StepSequence> seqs;
  std::vector<int32_t> block_indptr;  // [seqs.size() + 1]
  std::vector<int32_t> block_ids;
  bool return_logits = false;  // tests: copy the logits of every sampled row back
};

struct SampledToken {
  int32_t token = -1;
  float logprob = 0.0f;                               // log-softmax of the raw logits
  std::vector<std::pair<int32_t, float>> top_logprobs;  // highest first
};

struct StepResult {
  std::vector<SampledToken> tokens;  // one per sequence with sample == true, in batch order
  std::vector<float> logits;         // [tokens.size() * vocab] when return_logits
};

struct KvCacheGeometry {
  int block_size = 16;  // tokens per block
  int num_blocks = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string Name() const = 0;
  virtual const ModelConfig& config() const = 0;
  virtual KvCacheGeometry kv_geometry() const = 0;
  // Runs one step. On error the KV contents of the batch's sequences are unspecified.
  virtual absl::Status Execute(const StepBatch& batch, StepResult* result) = 0;
};

}  // namespace corvid

#endif  // CORVID_ENGINE_BACKEND_H_
