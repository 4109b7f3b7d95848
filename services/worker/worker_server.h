// A whole corvid-worker in one object: gRPC server (Worker + health + reflection), /metrics,
// model loading, engine-liveness monitoring and drain. main.cc and the tests drive it.
//
// Life cycle: Start() listens with health NOT_SERVING (Info answers UNAVAILABLE); Load() reads
// the model, builds the backend and engine and turns health SERVING; a monitor thread refreshes
// the metrics and turns health NOT_SERVING for good if the engine dies; Drain() (SIGTERM)
// refuses new sessions and admissions, lets live requests finish within the grace period, then
// shuts the server down.
#ifndef CORVID_SERVICES_WORKER_WORKER_SERVER_H_
#define CORVID_SERVICES_WORKER_WORKER_SERVER_H_

#include <atomic>
#include <memory>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "prometheus/registry.h"
#include "services/common/admission.h"
#include "services/common/health.h"
#include "services/common/metrics.h"
#include "services/worker/worker_core.h"
#include "services/worker/worker_flags.h"
#include "services/worker/worker_metrics.h"
#include "services/worker/worker_service.h"

namespace corvid::worker {

inline constexpr char kServiceName[] = "corvid.v1.Worker";

class WorkerServer {
 public:
  static absl::StatusOr<std::unique_ptr<WorkerServer>> Start(const WorkerConfig& config);
  ~WorkerServer();

  // Loads the model and starts serving. The error names the file or option at fault.
  absl::Status Load();
  // Returns once the server has shut down (live requests finished or the grace period over).
  void Drain();

  int port() const { return port_; }
  int metrics_port() const { return metrics_ ? metrics_->port() : -1; }
  // Null before Load() succeeded.
  WorkerCore* core() { return core_.get(); }

 private:
  explicit WorkerServer(const WorkerConfig& config);
  void Monitor();

  const WorkerConfig config_;
  std::shared_ptr<prometheus::Registry> registry_;
  WorkerMetrics metrics_values_;
  service::AdmissionGate gate_;
  WorkerService service_;
  std::unique_ptr<WorkerCore> core_;  // outlives the server: declared before it
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<service::HealthReporter> health_;
  std::unique_ptr<service::MetricsServer> metrics_;
  int port_ = 0;
  bool drained_ = false;
  absl::Notification stop_monitor_;
  std::thread monitor_;
};

}  // namespace corvid::worker

#endif  // CORVID_SERVICES_WORKER_WORKER_SERVER_H_
