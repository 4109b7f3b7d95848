// Launch API of on-device logits processing and sampling. Implements the pipeline documented in
// engine/sampler.h (the CPU reference) so that both backends pick the same token for the same
// logits, parameters and seed:
//   1. LaunchLogprobs: log-sum-exp and the top-n of the RAW logits.
//   2. LaunchPenalties: repetition, then presence/frequency, in place on the logits; the raw
//      value of every touched logit is kept in its PenaltyEntry.
//   3. LaunchSample: greedy argmax (lowest id on ties), or temperature + top-k + top-p + min-p
//      over the order (z desc, id asc) and an inverse-CDF draw with u = UniformFloat(seed,
//      counter) from kernels/rng.h. The kept set and the draw are found by radix selection over
//      a 64-bit key (z, id), with weights summed in 2^-40 fixed point, so the result does not
//      depend on thread scheduling.
// Only SampleResult rows need to leave the device.
#ifndef CORVID_KERNELS_SAMPLING_H_
#define CORVID_KERNELS_SAMPLING_H_

#include <cstdint>

#include "kernels/kernel_api.h"

namespace corvid::kernels {

constexpr int kMaxTopLogprobs = 20;

// One sampled row (device array, filled by the host).
struct SamplingRow {
  int32_t logits_row = 0;  // row of the logits buffer
  float temperature = 0.0f;  // 0 = greedy
  int32_t top_k = 0;
  float top_p = 1.0f;
  float min_p = 0.0f;
  float repetition_penalty = 1.0f;
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  int32_t num_top_logprobs = 0;
  int32_t penalty_begin = 0;  // this row's PenaltyEntry range
  int32_t penalty_end = 0;
  int32_t pad_ = 0;
  uint64_t seed = 0;
  uint64_t counter = 0;  // tokens generated so far by the request
};

// A distinct token of a row's history (host-built, deduplicated).
struct PenaltyEntry {
  int32_t row = 0;           // index into the SamplingRow array
  int32_t token = 0;
  int32_t output_count = 0;  // occurrences among the generated tokens
  int32_t in_history = 0;    // 1 when in prompt or output (repetition penalty applies)
  float raw = 0.0f;          // written by LaunchPenalties: the logit before penalties
  int32_t pad_ = 0;
};

struct SampleResult {
  int32_t token = -1;
  float logprob = 0.0f;  // log-softmax of the raw logits at `token`
  int32_t num_top = 0;
  int32_t top_ids[kMaxTopLogprobs];
  float top_logprobs[kMaxTopLogprobs];
  float lse = 0.0f;  // log-sum-exp of the raw row
};

KernelError LaunchLogprobs(const float* logits, int vocab, const SamplingRow* rows, int num_rows,
                           SampleResult* results, StreamHandle stream);

KernelError LaunchPenalties(float* logits, int vocab, const SamplingRow* rows,
                            PenaltyEntry* entries, int num_entries, StreamHandle stream);

// Needs LaunchLogprobs (for lse) and LaunchPenalties (when any entries) to have run first.
KernelError LaunchSample(const float* logits, int vocab, const SamplingRow* rows, int num_rows,
                         const PenaltyEntry* entries, SampleResult* results,
                         StreamHandle stream);

}  // namespace corvid::kernels

#endif  // CORVID_KERNELS_SAMPLING_H_
