// Drives a Backend the way the engine would, for timing: B sequences with random prompts,
// prefilled under a per-step token budget, then decoded in lock-step.
#ifndef CORVID_TOOLS_BENCH_DRIVER_H_
#define CORVID_TOOLS_BENCH_DRIVER_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/backend.h"

namespace corvid::bench {

struct BatchTiming {
  int batch = 0;
  double prefill_ms = 0.0;       // all prompts, wall clock (first tokens included)
  std::vector<double> decode_ms;  // per decode step, wall clock
  double MedianDecodeMs() const;
};

// profile_steps > 0: the CUDA profiler range (cudaProfilerStart/Stop, for
// `ncu --profile-from-start off`) covers that many decode steps from the middle of the run.
absl::StatusOr<BatchTiming> TimeBatch(Backend* backend, int batch, int prompt_len, int gen,
                                      int token_budget, uint64_t seed, int profile_steps = 0);

}  // namespace corvid::bench

#endif  // CORVID_TOOLS_BENCH_DRIVER_H_
