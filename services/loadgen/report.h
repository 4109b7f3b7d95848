// The figures of a run, computed from its request records the way vLLM's `bench serve` defines
// them, and their two renderings (a human table, JSON).
//
// * TTFT: first token's arrival - sending; TPOT per request: (last token chunk - first token
//   chunk) / (tokens after the first chunk); ITL: gaps between consecutive token-carrying
//   messages of a request, pooled over requests; E2E: final status - sending. These, the
//   throughputs and goodput count successful (OK) requests only.
// * Throughputs divide by the run's wall time (start to the last completion).
// * Goodput: successful requests per second whose TTFT and TPOT both meet the SLO.
// * Failed requests are grouped by gRPC code, with the latency of their final status.
#ifndef CORVID_SERVICES_LOADGEN_REPORT_H_
#define CORVID_SERVICES_LOADGEN_REPORT_H_

#include <cstdint>
#include <map>
#include <string>

#include "nlohmann/json_fwd.hpp"
#include "services/loadgen/driver.h"
#include "services/loadgen/percentiles.h"

namespace corvid::loadgen {

struct SloOptions {
  double ttft_ms = 0;  // <= 0: no bound on TTFT
  double tpot_ms = 0;  // <= 0: no bound on TPOT
};

struct ErrorSummary {
  int64_t count = 0;
  Distribution latency_ms;  // sending to the final status
  std::string example;      // one status message
};

struct Report {
  std::string label;   // the caller's name for the run (may be empty)
  std::string target;  // TargetInfo::description
  std::string load;    // e.g. "closed loop, concurrency 8"
  int64_t sent = 0, succeeded = 0, failed = 0;
  double duration_s = 0;
  int64_t prompt_tokens = 0, output_tokens = 0;  // successful requests'
  double request_throughput = 0;                 // successful requests/s
  double output_throughput = 0;                  // output tokens/s
  Distribution ttft_ms, tpot_ms, itl_ms, e2e_ms;
  Distribution send_lag_ms;  // sending - scheduled arrival: the load generator's own delay
  SloOptions slo;
  int64_t good = 0;
  double goodput = 0;                          // requests/s
  std::map<std::string, ErrorSummary> errors;  // by gRPC code name ("RESOURCE_EXHAUSTED")
  // Every request that streamed at least one token, however it ended (it was admitted):
  Distribution streamed_ttft_ms;
  double deadline_ms = 0;  // the requests' deadline (0 = none)
  int64_t first_token_after_deadline = 0;
  int64_t chunks = 0, multi_token_chunks = 0;  // token-carrying messages; those with > 1 token
  // CPU seconds (user + system) this process used during the run: the load generator's own
  // cost against a server, the engine's included in-process. Filled by the caller.
  double process_cpu_s = 0;
};

Report BuildReport(const RunResult& run, const SloOptions& slo);

// A fixed-width table for a terminal.
std::string FormatReport(const Report& report);
nlohmann::json ReportToJson(const Report& report);

}  // namespace corvid::loadgen

#endif  // CORVID_SERVICES_LOADGEN_REPORT_H_
