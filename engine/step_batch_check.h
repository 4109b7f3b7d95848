// Structural validation of a StepBatch against a model and a KV cache geometry, shared by the
// backends so that a malformed batch is an error, never an out-of-bounds read or write.
#ifndef CORVID_ENGINE_STEP_BATCH_CHECK_H_
#define CORVID_ENGINE_STEP_BATCH_CHECK_H_

#include "absl/status/status.h"
#include "engine/backend.h"
#include "engine/model_config.h"

namespace corvid {

// INVALID_ARGUMENT naming the sequence and field when: the CSR block table is malformed, token
// counts disagree, a position is not context_len - num_query_tokens + t, a sequence has fewer
// blocks than its context needs, a token or block id is out of range, or a sampled sequence
// lacks its sampling params / prompt / output.
absl::Status CheckStepBatch(const StepBatch& batch, const ModelConfig& config,
                            const KvCacheGeometry& geometry);

}  // namespace corvid

#endif  // CORVID_ENGINE_STEP_BATCH_CHECK_H_
