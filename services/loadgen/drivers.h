// The two ways corvid-loadgen runs a workload: against a corvid-scheduler over gRPC, or against
// an Engine in this process (the baseline the services are compared with). Both record the same
// per-request measurements from the same arrival schedule.
#ifndef CORVID_SERVICES_LOADGEN_DRIVERS_H_
#define CORVID_SERVICES_LOADGEN_DRIVERS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/loadgen/stats.h"
#include "services/loadgen/workload.h"

namespace corvid::loadgen {

struct RunOptions {
  bool closed_loop = false;
  int concurrency = 8;  // closed loop: requests in flight
  absl::Duration timeout = absl::Seconds(600);  // per-request deadline
};

class Driver {
 public:
  virtual ~Driver() = default;
  // Runs every request of `specs` (arrival offsets apply in open loop); one record per spec.
  virtual std::vector<RequestRecord> Run(const std::vector<RequestSpec>& specs,
                                         const RunOptions& options) = 0;
  // Vocabulary size of the served model (synthetic prompts draw ids below it).
  virtual int vocab_size() const = 0;
};

// `channels` HTTP/2 connections are used round-robin.
absl::StatusOr<std::unique_ptr<Driver>> MakeGrpcDriver(const std::string& target, int channels);

struct EngineDriverOptions {
  std::string model_dir;
  std::string backend = "cpu";  // cpu or cuda (when built with it)
  int threads = 0;
  int max_running = 32;
  int max_batched_tokens = 512;
  int block_size = 16;
  int kv_blocks = 0;
  double min_step_ms = 0;  // as corvid-worker --min-step-ms
  // Requests handed to the engine at once (running + its waiting queue); the rest wait in the
  // driver, as they would wait in the scheduler in front of a worker with --max-sequences
  // this large. 0 = 2 x max_running.
  int max_in_engine = 0;
};
absl::StatusOr<std::unique_ptr<Driver>> MakeEngineDriver(const EngineDriverOptions& options);

}  // namespace corvid::loadgen

#endif  // CORVID_SERVICES_LOADGEN_DRIVERS_H_
