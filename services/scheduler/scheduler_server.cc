#include "services/scheduler/scheduler_server.h"

#include <utility>

#include "absl/time/clock.h"
#include "engine/status_macros.h"
#include "services/common/grpc_server.h"
#include "services/common/logging.h"

namespace corvid::scheduler {
namespace {

// The HOST:PORT workers; dns: ones are found by WorkerDiscovery.
std::vector<std::string> StaticWorkers(const std::vector<std::string>& workers) {
  std::vector<std::string> out;
  for (const std::string& w : workers) {
    if (!ParseDnsTarget(w).ok()) out.push_back(w);
  }
  return out;
}

}  // namespace

SchedulerServer::SchedulerServer(const SchedulerConfig& config)
    : config_(config),
      registry_(std::make_shared<prometheus::Registry>()),
      metrics_values_(*registry_),
      tokenizers_(config.tokenizers, config.ToTokenizerOptions()),
      core_(config.ToOptions(), StaticWorkers(config.workers), &tokenizers_, &metrics_values_),
      service_(&core_, &tokenizers_, &gate_, &metrics_values_) {}

absl::StatusOr<std::unique_ptr<SchedulerServer>> SchedulerServer::Start(
    const SchedulerConfig& config) {
  RETURN_IF_ERROR(ValidateSchedulerConfig(config));
  std::unique_ptr<SchedulerServer> s(new SchedulerServer(config));
  if (config.server.metrics_port >= 0) {
    ASSIGN_OR_RETURN(s->metrics_,
                     service::MetricsServer::Start(config.server.MetricsAddress(), s->registry_));
  }
  ASSIGN_OR_RETURN(service::StartedServer started,
                   service::StartGrpcServer(config.server.ToServerOptions(), {&s->service_}));
  s->server_ = std::move(started.server);
  s->port_ = started.port;
  s->health_ = std::make_unique<service::HealthReporter>(s->server_.get(),
                                                         std::vector<std::string>{kServiceName});
  SchedulerServer* raw = s.get();
  s->core_.SetLiveWorkersListener([raw](int live) {
    if (!raw->gate_.draining()) raw->health_->SetServing(live > 0);
  });
  s->core_.Start();
  s->discovery_ = std::make_unique<WorkerDiscovery>(config.workers, &s->core_,
                                                    absl::Seconds(config.worker_resolve_s));
  service::LogInfo("listening", {{"port", s->port_},
                                 {"metrics_port", s->metrics_port()},
                                 {"workers", static_cast<int64_t>(config.workers.size())},
                                 {"tokenizers", static_cast<int64_t>(config.tokenizers.size())}});
  return s;
}

SchedulerServer::~SchedulerServer() {
  if (server_ != nullptr) {  // null when Start() failed part-way
    if (!drained_) service::StopServerNow(server_.get(), &gate_, health_.get());
    server_->Wait();
  }
  // Encode calls outlive their Generate calls when clients leave: end them before what their
  // callbacks use goes away.
  tokenizers_.Shutdown();
  discovery_.reset();
  core_.Stop();
}

service::DrainResult SchedulerServer::Drain() {
  if (drained_) return {};
  drained_ = true;
  // Admitted streams hold gate tickets until their last message is out: DrainServer waits for
  // them (bounded by the grace period) before the server goes.
  service::DrainResult result =
      service::DrainServer(server_.get(), &gate_, health_.get(), config_.server.grace_period());
  tokenizers_.Shutdown();
  discovery_.reset();
  core_.Stop();
  return result;
}

}  // namespace corvid::scheduler
