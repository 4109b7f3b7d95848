// One corvid-loadgen run from its resolved flags: target, workload, warm-up, run, report.
#ifndef CORVID_SERVICES_LOADGEN_LOADGEN_RUN_H_
#define CORVID_SERVICES_LOADGEN_LOADGEN_RUN_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "services/loadgen/loadgen_flags.h"
#include "services/loadgen/report.h"
#include "services/loadgen/target.h"
#include "services/loadgen/workload.h"

namespace corvid::loadgen {

// Connects to the scheduler or loads the in-process engine.
absl::StatusOr<std::unique_ptr<Target>> CreateTarget(const LoadgenConfig& config);

// The requests of the run: the JSONL file's, or enough synthetic ones that a duration-bound run
// repeats a prompt rarely.
absl::StatusOr<std::vector<RequestSpec>> BuildWorkload(const LoadgenConfig& config,
                                                       const TargetInfo& info);

// Warm-up (discarded), then the measured run.
absl::StatusOr<Report> RunLoadgen(const LoadgenConfig& config);

}  // namespace corvid::loadgen

#endif  // CORVID_SERVICES_LOADGEN_LOADGEN_RUN_H_
