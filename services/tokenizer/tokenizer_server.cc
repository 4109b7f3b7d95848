#include "services/tokenizer/tokenizer_server.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "engine/status_macros.h"
#include "services/common/logging.h"

namespace corvid::tokenizer_service {

TokenizerServer::TokenizerServer(const TokenizerServerConfig& config)
    : config_(config),
      registry_(std::make_shared<prometheus::Registry>()),
      service_metrics_(*registry_),
      service_(config.service, &gate_, &service_metrics_) {}

absl::StatusOr<std::unique_ptr<TokenizerServer>> TokenizerServer::Start(
    const TokenizerServerConfig& config) {
  RETURN_IF_ERROR(service::ValidateServerFlags(config.server));
  RETURN_IF_ERROR(ValidateLimits(config.service.limits));
  if (config.models.empty()) return absl::InvalidArgumentError("no model: give --model NAME=DIR");
  std::unique_ptr<TokenizerServer> server(new TokenizerServer(config));
  if (config.server.metrics_port >= 0) {
    ASSIGN_OR_RETURN(server->metrics_, service::MetricsServer::Start(config.server.MetricsAddress(),
                                                                     server->registry_));
  }
  ASSIGN_OR_RETURN(service::StartedServer started,
                   service::StartGrpcServer(config.server.ToServerOptions(), {&server->service_}));
  server->server_ = std::move(started.server);
  server->port_ = started.port;
  server->health_ = std::make_unique<service::HealthReporter>(
      server->server_.get(), std::vector<std::string>{kServiceName});
  service::LogInfo("listening", {{"port", server->port_},
                                 {"metrics_port", server->metrics_port()},
                                 {"health", "NOT_SERVING"}});
  return server;
}

TokenizerServer::~TokenizerServer() {
  if (server_ == nullptr) return;  // Start() failed before the server ran
  if (!drained_) service::StopServerNow(server_.get(), &gate_, health_.get());
  server_->Wait();
}

absl::Status TokenizerServer::LoadModels() {
  absl::Time start = absl::Now();
  auto registry = ModelRegistry::Load(config_.models);
  if (!registry.ok()) {
    service::LogError("loading failed", {{"error", std::string(registry.status().message())}});
    return registry.status();
  }
  for (const std::string& name : (*registry)->names()) {
    const LoadedModel* model = *(*registry)->Find(name);
    service::LogInfo("model loaded", {{"model", name},
                                      {"dir", model->dir},
                                      {"vocab_size", model->vocab_size},
                                      {"pieces", model->piece_count},
                                      {"digest_sha256", model->digest_sha256}});
  }
  service_.SetRegistry(std::move(registry).value());
  health_->SetServing(true);
  service::LogInfo("serving", {{"load_ms", absl::ToInt64Milliseconds(absl::Now() - start)}});
  return absl::OkStatus();
}

service::DrainResult TokenizerServer::Drain() {
  service::DrainResult result;
  if (drained_) return result;
  drained_ = true;
  return service::DrainServer(server_.get(), &gate_, health_.get(), config_.server.grace_period());
}

}  // namespace corvid::tokenizer_service
