// Truthful grpc.health.v1 states over gRPC's built-in health service: NOT_SERVING while the
// process loads, SERVING once ready, NOT_SERVING for good once it drains.
#ifndef CORVID_SERVICES_COMMON_HEALTH_H_
#define CORVID_SERVICES_COMMON_HEALTH_H_

#include <grpcpp/server.h>

#include <atomic>
#include <string>
#include <vector>

namespace corvid::service {

class HealthReporter {
 public:
  // `server` (not owned) was started by StartGrpcServer. `services` are the fully qualified
  // service names to report besides the server-wide "" entry (e.g. "corvid.v1.Tokenizer");
  // all start NOT_SERVING.
  HealthReporter(grpc::Server* server, std::vector<std::string> services);

  // Sets "" and every listed service. Ignored after Shutdown().
  void SetServing(bool serving);
  bool serving() const { return serving_.load(); }
  // NOT_SERVING for good; open Watch calls see it. Part of draining.
  void Shutdown();

 private:
  grpc::HealthCheckServiceInterface* health_;  // null when the server has none
  std::vector<std::string> services_;
  std::atomic<bool> serving_{false};
  std::atomic<bool> shut_down_{false};
};

}  // namespace corvid::service

#endif  // CORVID_SERVICES_COMMON_HEALTH_H_
