// The engine loop: continuous batching over one backend. Not thread-safe: one thread owns an
// Engine and calls Add/Cancel/Step (see docs/engine.md for the contract).
#ifndef CORVID_ENGINE_ENGINE_H_
#define CORVID_ENGINE_ENGINE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/backend.h"
#include "engine/sampling_params.h"

namespace corvid {

struct GenerationRequest {
  int64_t id = 0;  // caller-chosen, unique among live requests
  std::vector<int32_t> prompt;
  SamplingParams sampling;
  bool has_seed = false;  // when false the engine draws a seed
  int max_tokens = 16;
  std::vector<int32_t> stop_token_ids;  // in addition to the model's eos unless ignore_eos
  bool ignore_eos = false;
};

enum class FinishReason { kNone, kLength, kStop, kCancelled };
const char* FinishReasonName(FinishReason r);

// One new token of one request, or its end.
struct TokenEvent {
  int64_t id = 0;
  SampledToken token;  // token.token < 0 when the event only finishes (cancel)
  FinishReason finish = FinishReason::kNone;
};

struct EngineOptions {
  int max_num_seqs = 64;               // running sequences per step
  int max_num_batched_tokens = 512;    // token budget per step (prefill chunks + decodes)
  int max_model_len = 0;               // 0 = the model's max_position_embeddings
  uint64_t seed = 0x636f72766964ull;   // draws per-request seeds when requests have none
  // Reuse the KV of full blocks whose token prefix was computed before (docs/engine.md).
  bool enable_prefix_caching = true;
};

// What a scheduler needs to admit work.
struct EngineCapacity {
  int num_kv_blocks = 0;
  int free_kv_blocks = 0;
  int block_size = 0;
  int running = 0;
  int waiting = 0;
  int cached_kv_blocks = 0;  // blocks holding reusable prefix KV (in use or evictable)
};

struct StepStats {
  int num_prefill_tokens = 0;
  int num_decode_tokens = 0;
  int num_preempted = 0;
  // Prefix caching, over this step's admissions: history tokens looked up, and how many of
  // them were found cached (so not computed).
  int num_prefix_queried_tokens = 0;
  int num_prefix_hit_tokens = 0;
};

class Engine {
 public:
  static absl::StatusOr<std::unique_ptr<Engine>> Create(std::unique_ptr<Backend> backend,
                                                        const EngineOptions& options);
  virtual ~Engine() = default;

  // Queues a request. INVALID_ARGUMENT (naming the field) for bad sampling values, an empty
  // prompt, ids out of range, prompt + max_tokens over the context, or a duplicate id;
  // RESOURCE_EXHAUSTED when the request could never fit in the KV cache.
  virtual absl::Status Add(GenerationRequest request) = 0;
  // Cancels a queued or running request: its blocks are freed before the next step runs and a
  // kCancelled event is emitted by that step. Unknown ids are ignored.
  virtual void Cancel(int64_t id) = 0;
  // Runs one step (mix of chunked prefills and decodes) and appends its events to `events`.
  virtual absl::Status Step(std::vector<TokenEvent>* events, StepStats* stats = nullptr) = 0;
  virtual bool HasWork() const = 0;
  virtual EngineCapacity Capacity() const = 0;
  virtual const ModelConfig& config() const = 0;
};

}  // namespace corvid

#endif  // CORVID_ENGINE_ENGINE_H_
