// Validation of a public GenerateRequest: every field checked against its documented range
// (proto/corvid/v1/generation.proto), errors naming the field; defaults resolved.
#ifndef CORVID_SERVICES_SCHEDULER_REQUEST_VALIDATION_H_
#define CORVID_SERVICES_SCHEDULER_REQUEST_VALIDATION_H_

#include <cstdint>
#include <optional>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/statusor.h"
#include "corvid/v1/generation.pb.h"
#include "corvid/v1/worker.pb.h"
#include "services/scheduler/request_queue.h"

namespace corvid::scheduler {

struct ModelLimits {
  std::string name;
  int context_length = 0;
  int vocab_size = 0;
};

// Per-request bounds that are not the model's.
inline constexpr size_t kMaxPromptTextBytes = 1 << 20;
inline constexpr int kMaxStopStrings = 16;
inline constexpr size_t kMaxStopStringBytes = 256;
inline constexpr int kMaxStopTokenIds = 64;
inline constexpr int kMaxTopLogprobs = 20;
inline constexpr size_t kMaxRequestIdBytes = 128;
inline constexpr int kDefaultMaxTokens = 16;

// A request after validation, with every default filled in.
struct ResolvedRequest {
  std::string request_id;  // may still be empty: the caller assigns one
  QueueClass priority = QueueClass::kNormal;
  int max_tokens = kDefaultMaxTokens;
  v1::WorkerSampling sampling;  // seed valid only when has_seed
  bool has_seed = false;
  std::vector<std::string> stops;
  std::vector<int32_t> stop_token_ids;
  bool ignore_eos = false;
  bool add_special_tokens = true;
  bool text_prompt = false;
};

// NOT_FOUND for an unknown model; INVALID_ARGUMENT naming the first bad field.
absl::StatusOr<ResolvedRequest> ValidateRequest(const v1::GenerateRequest& request,
                                                const ModelLimits& limits);

// Checks the tokenized prompt: non-empty, ids in range, and prompt + max_tokens within the
// context. INVALID_ARGUMENT naming `prompt`/`token_ids`/`max_tokens`.
absl::Status CheckPrompt(const std::vector<int32_t>& prompt, const ResolvedRequest& request,
                         const ModelLimits& limits);

bool IsValidUtf8(absl::string_view s);

}  // namespace corvid::scheduler

#endif  // CORVID_SERVICES_SCHEDULER_REQUEST_VALIDATION_H_
