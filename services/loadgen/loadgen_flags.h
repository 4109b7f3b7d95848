// corvid-loadgen's flags and the run they describe.
#ifndef CORVID_SERVICES_LOADGEN_LOADGEN_FLAGS_H_
#define CORVID_SERVICES_LOADGEN_LOADGEN_FLAGS_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "services/common/flags.h"
#include "services/loadgen/driver.h"
#include "services/loadgen/report.h"
#include "services/loadgen/target.h"
#include "services/worker/worker_flags.h"

namespace corvid::loadgen {

struct LoadgenConfig {
  // Where: a scheduler, or the engine in this process.
  std::string server;
  bool in_process = false;
  int64_t channels = 1;
  double connect_timeout_s = 30;
  worker::WorkerConfig engine;  // --in-process: model dir and engine settings (worker's flags)

  // What: a JSONL file, or distributions.
  std::string workload;
  std::string prompt_len = "fixed:32";
  std::string output_len = "fixed:64";
  std::string prompt_format = "ids";  // ids | text
  int64_t seed = 0;
  RequestOptions request;
  double temperature = 0;

  // How: --rate (open loop) or --concurrency (closed loop).
  double rate = 0;
  std::string arrival = "poisson";
  int64_t concurrency = 0;
  int64_t num_requests = -1;
  double duration_s = 0;
  int64_t warmup = 0;  // requests sent and discarded before the measured run

  SloOptions slo;
  std::string json_path;
  std::string label;

  RunOptions run;            // resolved
  std::string load_summary;  // resolved, e.g. "open loop, poisson at 4 req/s"
};

void RegisterLoadgenFlags(service::FlagSet& flags, LoadgenConfig* config);
// Checks the combination and fills `run` and `load_summary`; INVALID_ARGUMENT naming the flag.
absl::Status ResolveLoadgenConfig(LoadgenConfig* config);

}  // namespace corvid::loadgen

#endif  // CORVID_SERVICES_LOADGEN_LOADGEN_FLAGS_H_
