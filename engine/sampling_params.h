// Per-request sampling parameters. Validation lives with the engine (Validate below);
// the sampler itself assumes valid input.
#ifndef CORVID_ENGINE_SAMPLING_PARAMS_H_
#define CORVID_ENGINE_SAMPLING_PARAMS_H_

#include <cstdint>

#include "absl/status/status.h"

namespace corvid {

struct SamplingParams {
  float temperature = 1.0f;  // 0 = greedy
  int top_k = 0;             // 0 = off
  float top_p = 1.0f;        // 1 = off
  float min_p = 0.0f;        // 0 = off
  float repetition_penalty = 1.0f;  // 1 = off; HF semantics over prompt + output tokens
  float presence_penalty = 0.0f;    // OpenAI semantics over output tokens
  float frequency_penalty = 0.0f;   // OpenAI semantics over output tokens
  uint64_t seed = 0;                // set by the engine when the request has none
  int top_logprobs = 0;             // number of alternatives to report (0..20)
  bool logprobs = false;            // report the chosen token's logprob

  bool greedy() const { return temperature == 0.0f; }
  // INVALID_ARGUMENT naming the first bad field.
  absl::Status Validate() const;
};

}  // namespace corvid

#endif  // CORVID_ENGINE_SAMPLING_PARAMS_H_
