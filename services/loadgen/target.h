// What the load is driven against: corvid-scheduler over gRPC (grpc_target.h) or the engine in
// this process (inprocess_target.h). The driver sees only this interface, so both report the
// same figures measured the same way.
#ifndef CORVID_SERVICES_LOADGEN_TARGET_H_
#define CORVID_SERVICES_LOADGEN_TARGET_H_

#include <functional>
#include <string>

#include "services/loadgen/record.h"
#include "services/loadgen/workload.h"

namespace corvid::loadgen {

// Per-request settings every request of a run shares.
struct RequestOptions {
  std::string model;       // served model name ("" = the default)
  float temperature = 0;   // 0 = greedy
  bool ignore_eos = true;  // so output lengths are the workload's
  double deadline_ms = 0;  // per-request deadline from sending, 0 = none
};

struct TargetInfo {
  std::string description;  // for the report ("grpc localhost:50050, 2 channels", ...)
  int vocab_size = 0;
  int context_length = 0;
};

class Target {
 public:
  virtual ~Target() = default;
  virtual TargetInfo Info() const = 0;
  // Sends one request and returns without waiting for it. The target fills `record` (from any
  // one thread at a time) and then calls `done` exactly once; `record` and `spec` outlive that.
  // Must not block for long: the open-loop driver calls it at arrival times.
  virtual void Start(const RequestSpec& spec, RequestRecord* record,
                     std::function<void()> done) = 0;
};

}  // namespace corvid::loadgen

#endif  // CORVID_SERVICES_LOADGEN_TARGET_H_
