#include "engine/sampling_params.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace corvid {
namespace {

absl::Status Bad(const char* field, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("sampling.", field, " ", what));
}

}  // namespace

absl::Status SamplingParams::Validate() const {
  if (!std::isfinite(temperature) || temperature < 0.0f) {
    return Bad("temperature", absl::StrCat("must be finite and >= 0, got ", temperature));
  }
  if (top_k < 0) return Bad("top_k", absl::StrCat("must be >= 0 (0 = off), got ", top_k));
  if (!(top_p > 0.0f && top_p <= 1.0f)) {
    return Bad("top_p", absl::StrCat("must be in (0, 1], got ", top_p));
  }
  if (!(min_p >= 0.0f && min_p <= 1.0f)) {
    return Bad("min_p", absl::StrCat("must be in [0, 1], got ", min_p));
  }
  if (!std::isfinite(repetition_penalty) || repetition_penalty <= 0.0f) {
    return Bad("repetition_penalty",
               absl::StrCat("must be finite and > 0, got ", repetition_penalty));
  }
  if (!(presence_penalty >= -2.0f && presence_penalty <= 2.0f)) {
    return Bad("presence_penalty", absl::StrCat("must be in [-2, 2], got ", presence_penalty));
  }
  if (!(frequency_penalty >= -2.0f && frequency_penalty <= 2.0f)) {
    return Bad("frequency_penalty", absl::StrCat("must be in [-2, 2], got ", frequency_penalty));
  }
  if (top_logprobs < 0 || top_logprobs > 20) {
    return Bad("top_logprobs", absl::StrCat("must be in [0, 20], got ", top_logprobs));
  }
  return absl::OkStatus();
}

}  // namespace corvid
