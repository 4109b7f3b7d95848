// Admission checks of one GenerationRequest against the model and the KV cache (engine.h, Add).
#ifndef CORVID_ENGINE_REQUEST_VALIDATION_H_
#define CORVID_ENGINE_REQUEST_VALIDATION_H_

#include "absl/status/status.h"
#include "engine/engine.h"
#include "engine/kv_block_manager.h"
#include "engine/model_config.h"

namespace corvid {

// INVALID_ARGUMENT naming the field (`prompt`, `prompt[i]`, `max_tokens`, `stop_token_ids[i]`,
// `sampling.<name>`) for a malformed request or one whose prompt + max_tokens exceeds
// `max_model_len`; RESOURCE_EXHAUSTED when the request could not fit in an empty KV cache of
// `blocks`' geometry. Duplicate ids are the engine's check (it knows the live ids).
absl::Status ValidateRequest(const GenerationRequest& request, const ModelConfig& config,
                             int max_model_len, const KvBlockManager& blocks);

// KV slots a request can hold at most while running: prompt + max_tokens - 1 (the last
// sampled token is never fed back).
int MaxKvTokens(const GenerationRequest& request);

}  // namespace corvid

#endif  // CORVID_ENGINE_REQUEST_VALIDATION_H_
