// A whole corvid-tokenizer server in one object: gRPC server (Tokenizer + health + reflection),
// /metrics endpoint, model loading, drain. main.cc and the tests drive the same object.
//
// Life cycle: Start() listens with health NOT_SERVING and every call answered UNAVAILABLE;
// LoadModels() loads the tokenizers and turns health SERVING; Drain() (on SIGTERM) stops
// admitting, turns health NOT_SERVING, lets in-flight calls finish within the grace period and
// shuts the server down.
#ifndef CORVID_SERVICES_TOKENIZER_TOKENIZER_SERVER_H_
#define CORVID_SERVICES_TOKENIZER_TOKENIZER_SERVER_H_

#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "services/common/admission.h"
#include "services/common/drain.h"
#include "services/common/grpc_server.h"
#include "services/common/health.h"
#include "services/common/metrics.h"
#include "services/common/server_flags.h"
#include "services/tokenizer/model_registry.h"
#include "services/tokenizer/service_metrics.h"
#include "services/tokenizer/tokenizer_service.h"

namespace corvid::tokenizer_service {

inline constexpr char kServiceName[] = "corvid.v1.Tokenizer";

struct TokenizerServerConfig {
  service::ServerFlags server;
  std::vector<ModelSpec> models;  // the first is the default
  ServiceOptions service;
};

class TokenizerServer {
 public:
  static absl::StatusOr<std::unique_ptr<TokenizerServer>> Start(
      const TokenizerServerConfig& config);
  // Drains with no grace period if Drain() was not called.
  ~TokenizerServer();

  // Loads config.models; on success the service answers and health says SERVING. On failure the
  // server stays NOT_SERVING and the error names the model.
  absl::Status LoadModels();

  // The drain sequence (see services/common/drain.h); returns once the server has shut down.
  service::DrainResult Drain();

  int port() const { return port_; }
  int metrics_port() const { return metrics_ ? metrics_->port() : -1; }  // -1: disabled
  service::AdmissionGate& gate() { return gate_; }
  // The loaded models (null before LoadModels succeeds), e.g. to compare with the library.
  const ModelRegistry* models() const { return service_.registry(); }
  prometheus::Registry& registry() { return *registry_; }

 private:
  explicit TokenizerServer(const TokenizerServerConfig& config);

  const TokenizerServerConfig config_;
  std::shared_ptr<prometheus::Registry> registry_;
  ServiceMetrics service_metrics_;
  service::AdmissionGate gate_;
  TokenizerService service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<service::HealthReporter> health_;
  std::unique_ptr<service::MetricsServer> metrics_;
  int port_ = 0;
  bool drained_ = false;
};

}  // namespace corvid::tokenizer_service

#endif  // CORVID_SERVICES_TOKENIZER_TOKENIZER_SERVER_H_
