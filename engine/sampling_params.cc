#include "engine/sampling_params.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace corvid {
namespace {

absl::Status Bad(const char* field, const char* rule, double value) {
  return absl::InvalidArgumentError(absl::StrCat(field, " must be ", rule, ", got ", value));
}

}  // namespace

absl::Status SamplingParams::Validate() const {
  // Comparisons are written so that NaN fails them.
  if (!(temperature >= 0.0f) || !std::isfinite(temperature)) {
    return Bad("temperature", "finite and >= 0", temperature);
  }
  if (top_k < 0) return Bad("top_k", ">= 0 (0 disables it)", top_k);
  if (!(top_p > 0.0f && top_p <= 1.0f)) return Bad("top_p", "in (0, 1]", top_p);
  if (!(min_p >= 0.0f && min_p <= 1.0f)) return Bad("min_p", "in [0, 1]", min_p);
  if (!(repetition_penalty > 0.0f) || !std::isfinite(repetition_penalty)) {
    return Bad("repetition_penalty", "finite and > 0", repetition_penalty);
  }
  if (!(presence_penalty >= -2.0f && presence_penalty <= 2.0f)) {
    return Bad("presence_penalty", "in [-2, 2]", presence_penalty);
  }
  if (!(frequency_penalty >= -2.0f && frequency_penalty <= 2.0f)) {
    return Bad("frequency_penalty", "in [-2, 2]", frequency_penalty);
  }
  if (top_logprobs < 0 || top_logprobs > 20) return Bad("top_logprobs", "in [0, 20]", top_logprobs);
  return absl::OkStatus();
}

}  // namespace corvid
