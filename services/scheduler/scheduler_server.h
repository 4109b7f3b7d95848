// A whole corvid-scheduler in one object: the public Generation service (+ health, reflection),
// /metrics, the core and its links to workers and tokenizers, drain. main.cc and the tests
// drive it.
//
// Health is SERVING while at least one worker is live and the scheduler is not draining.
// Drain() (SIGTERM): new calls get UNAVAILABLE, health NOT_SERVING, admitted streams run to the
// end within the grace period, then the server shuts down.
#ifndef CORVID_SERVICES_SCHEDULER_SCHEDULER_SERVER_H_
#define CORVID_SERVICES_SCHEDULER_SCHEDULER_SERVER_H_

#include <memory>

#include "absl/status/statusor.h"
#include "prometheus/registry.h"
#include "services/common/admission.h"
#include "services/common/drain.h"
#include "services/common/health.h"
#include "services/common/metrics.h"
#include "services/scheduler/generation_service.h"
#include "services/scheduler/scheduler_core.h"
#include "services/scheduler/scheduler_flags.h"
#include "services/scheduler/scheduler_metrics.h"
#include "services/scheduler/tokenizer_pool.h"
#include "services/scheduler/worker_discovery.h"

namespace corvid::scheduler {

inline constexpr char kServiceName[] = "corvid.v1.Generation";

class SchedulerServer {
 public:
  static absl::StatusOr<std::unique_ptr<SchedulerServer>> Start(const SchedulerConfig& config);
  ~SchedulerServer();

  service::DrainResult Drain();
  int port() const { return port_; }
  int metrics_port() const { return metrics_ ? metrics_->port() : -1; }

 private:
  explicit SchedulerServer(const SchedulerConfig& config);

  const SchedulerConfig config_;
  std::shared_ptr<prometheus::Registry> registry_;
  SchedulerMetrics metrics_values_;
  service::AdmissionGate gate_;
  TokenizerPool tokenizers_;
  SchedulerCore core_;
  GenerationService service_;
  std::unique_ptr<WorkerDiscovery> discovery_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<service::HealthReporter> health_;
  std::unique_ptr<service::MetricsServer> metrics_;
  int port_ = 0;
  bool drained_ = false;
};

}  // namespace corvid::scheduler

#endif  // CORVID_SERVICES_SCHEDULER_SCHEDULER_SERVER_H_
