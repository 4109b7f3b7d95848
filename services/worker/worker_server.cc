#include "services/worker/worker_server.h"

#include <utility>

#include "absl/time/clock.h"
#include "engine/status_macros.h"
#include "services/common/drain.h"
#include "services/common/grpc_server.h"
#include "services/common/logging.h"
#include "services/worker/backend_factory.h"

namespace corvid::worker {

WorkerServer::WorkerServer(const WorkerConfig& config)
    : config_(config),
      registry_(std::make_shared<prometheus::Registry>()),
      metrics_values_(*registry_),
      service_(&gate_) {}

absl::StatusOr<std::unique_ptr<WorkerServer>> WorkerServer::Start(const WorkerConfig& config) {
  std::unique_ptr<WorkerServer> s(new WorkerServer(config));
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
  service::LogInfo("listening", {{"port", s->port_},
                                 {"metrics_port", s->metrics_port()},
                                 {"health", "NOT_SERVING"}});
  return s;
}

WorkerServer::~WorkerServer() {
  if (server_ != nullptr) {  // null when Start() failed part-way
    if (!drained_) service::StopServerNow(server_.get(), &gate_, health_.get());
    server_->Wait();
  }
  stop_monitor_.Notify();
  if (monitor_.joinable()) monitor_.join();
}

absl::Status WorkerServer::Load() {
  absl::Time start = absl::Now();
  ASSIGN_OR_RETURN(ModelConfig model, ModelConfig::FromDir(config_.model_dir));
  ASSIGN_OR_RETURN(std::unique_ptr<WeightStore> weights,
                   WeightStore::Open(config_.model_dir, model));
  ASSIGN_OR_RETURN(std::unique_ptr<Backend> backend, CreateBackend(config_, model, *weights));
  const std::string backend_name = backend->Name();
  EngineOptions engine_options;
  engine_options.max_num_seqs = static_cast<int>(config_.max_running);
  engine_options.max_num_batched_tokens = static_cast<int>(config_.max_batched_tokens);
  engine_options.max_model_len = static_cast<int>(config_.max_model_len);
  engine_options.enable_prefix_caching = config_.enable_prefix_caching;
  ASSIGN_OR_RETURN(std::unique_ptr<Engine> engine,
                   Engine::Create(std::move(backend), engine_options));
  WorkerCoreOptions options;
  options.model_name = config_.model_name;
  options.backend_name = backend_name;
  options.max_sequences = static_cast<int>(config_.max_sequences);
  options.max_running = engine_options.max_num_seqs;
  options.max_batched_tokens = engine_options.max_num_batched_tokens;
  options.context_length = config_.max_model_len > 0 ? static_cast<int>(config_.max_model_len)
                                                     : model.max_position_embeddings;
  options.min_step_ms = config_.min_step_ms;
  options.prefix_caching = engine_options.enable_prefix_caching;
  options.on_step = [this](double ms, const StepStats& step) {
    metrics_values_.ObserveStep(ms, step);
  };
  core_ = std::make_unique<WorkerCore>(std::move(engine), options);
  service_.Attach(core_.get());
  monitor_ = std::thread([this] { Monitor(); });
  health_->SetServing(true);
  v1::WorkerInfo info = core_->Info();
  service::LogInfo("serving", {{"model", config_.model_name},
                               {"backend", backend_name},
                               {"kv_blocks", info.kv_num_blocks()},
                               {"block_size", info.kv_block_size()},
                               {"context_length", info.context_length()},
                               {"load_ms", absl::ToInt64Milliseconds(absl::Now() - start)}});
  return absl::OkStatus();
}

void WorkerServer::Monitor() {
  const absl::Duration period = absl::Seconds(config_.health_poll_s);
  bool reported_dead = false;
  while (!stop_monitor_.WaitForNotificationWithTimeout(period)) {
    WorkerStats stats = core_->Stats();
    metrics_values_.Update(stats);
    if (!stats.engine_alive && !reported_dead) {
      reported_dead = true;
      health_->SetServing(false);
      service::LogError("engine failed: health NOT_SERVING");
    }
  }
}

void WorkerServer::Drain() {
  if (drained_) return;
  drained_ = true;
  absl::Time start = absl::Now();
  gate_.StopAdmitting();
  health_->SetServing(false);
  if (core_ != nullptr) {
    core_->StartDraining();
    absl::Time deadline = start + config_.server.grace_period();
    while (!core_->Idle() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
  }
  bool idle = core_ == nullptr || core_->Idle();
  health_->Shutdown();
  // Sessions stay open until the server goes: a short deadline ends them.
  server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Milliseconds(200)));
  service::LogInfo("drained", {{"elapsed_ms", absl::ToInt64Milliseconds(absl::Now() - start)},
                               {"requests_cut", !idle}});
}

}  // namespace corvid::worker
