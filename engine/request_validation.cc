#include "engine/request_validation.h"

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "engine/status_macros.h"

namespace corvid {
namespace {

// INVALID_ARGUMENT naming `field[i]` for the first id outside [0, vocab).
absl::Status CheckIds(const char* field, const std::vector<int32_t>& ids, int vocab) {
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= vocab) {
      return absl::InvalidArgumentError(absl::StrCat(field, "[", i, "] = ", ids[i],
                                                     " is outside the vocabulary [0, ", vocab,
                                                     ")"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

int MaxKvTokens(const GenerationRequest& request) {
  return static_cast<int>(request.prompt.size()) + request.max_tokens - 1;
}

absl::Status ValidateRequest(const GenerationRequest& request, const ModelConfig& config,
                             int max_model_len, const KvBlockManager& blocks) {
  if (request.prompt.empty()) return absl::InvalidArgumentError("prompt is empty");
  RETURN_IF_ERROR(CheckIds("prompt", request.prompt, config.vocab_size));
  if (request.max_tokens < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_tokens must be >= 1, got ", request.max_tokens));
  }
  // 64-bit sum: max_tokens may be anything a client sent.
  const int64_t total = static_cast<int64_t>(request.prompt.size()) + request.max_tokens;
  if (total > max_model_len) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_tokens: prompt (", request.prompt.size(), " tokens) + max_tokens (",
        request.max_tokens, ") = ", total, " exceeds the context length ", max_model_len));
  }
  RETURN_IF_ERROR(CheckIds("stop_token_ids", request.stop_token_ids, config.vocab_size));
  if (absl::Status sampling = request.sampling.Validate(); !sampling.ok()) {
    // Validate names the field within SamplingParams; name it within the request.
    return absl::InvalidArgumentError(absl::StrCat("sampling.", sampling.message()));
  }
  const int needed = blocks.BlocksFor(MaxKvTokens(request));
  if (needed > blocks.num_blocks()) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "prompt + max_tokens needs ", needed, " KV blocks of ", blocks.block_size(),
        " tokens; the cache has ", blocks.num_blocks(), " in all"));
  }
  return absl::OkStatus();
}

}  // namespace corvid
