#include "services/common/health.h"

#include <grpcpp/health_check_service_interface.h>

#include <utility>

namespace corvid::service {

HealthReporter::HealthReporter(grpc::Server* server, std::vector<std::string> services)
    : health_(server->GetHealthCheckService()), services_(std::move(services)) {
  SetServing(false);
}

void HealthReporter::SetServing(bool serving) {
  if (shut_down_.load()) return;
  serving_.store(serving);
  if (health_ == nullptr) return;
  health_->SetServingStatus("", serving);
  for (const std::string& name : services_) health_->SetServingStatus(name, serving);
}

void HealthReporter::Shutdown() {
  SetServing(false);
  shut_down_.store(true);
  if (health_ != nullptr) health_->Shutdown();
}

}  // namespace corvid::service
