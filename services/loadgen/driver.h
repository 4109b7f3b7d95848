// Drives a Target: open loop (requests sent at precomputed arrival times whatever the server
// does) or closed loop (a fixed number of requests in flight, each completion sending the
// next). Bounded by a request count, a duration, or both (whichever comes first).
#ifndef CORVID_SERVICES_LOADGEN_DRIVER_H_
#define CORVID_SERVICES_LOADGEN_DRIVER_H_

#include <cstdint>
#include <deque>
#include <vector>

#include "absl/status/status.h"
#include "services/loadgen/arrivals.h"
#include "services/loadgen/record.h"
#include "services/loadgen/target.h"
#include "services/loadgen/workload.h"

namespace corvid::loadgen {

struct RunOptions {
  bool closed_loop = false;
  int concurrency = 1;        // closed loop: requests in flight
  ArrivalOptions arrivals;    // open loop
  int64_t num_requests = -1;  // < 0 = no limit
  double duration_s = 0;      // sending stops after this long; <= 0 = no limit
};

// INVALID_ARGUMENT when the run would be unbounded or the concurrency is < 1.
absl::Status ValidateRunOptions(const RunOptions& options);

struct RunResult {
  std::deque<RequestRecord> records;  // in sending order
  int64_t origin_ns = 0;              // the run's start; arrival offsets count from here
  int64_t finished_ns = 0;            // when the last request completed
};

// Sends requests (request i uses specs[i % specs.size()]) until the bound is reached, then
// waits for every request in flight to complete. `specs` must not be empty.
RunResult RunLoad(Target& target, const std::vector<RequestSpec>& specs, const RunOptions& options);

}  // namespace corvid::loadgen

#endif  // CORVID_SERVICES_LOADGEN_DRIVER_H_
