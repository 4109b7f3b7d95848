// Builds and starts a gRPC server the way every corvid service wants it: bounded message sizes,
// the standard grpc.health.v1 service (starting NOT_SERVING), server reflection, keepalive
// settings that suit long-lived streams.
#ifndef CORVID_SERVICES_COMMON_GRPC_SERVER_H_
#define CORVID_SERVICES_COMMON_GRPC_SERVER_H_

#include <grpcpp/server.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace corvid::service {

struct GrpcServerOptions {
  // HOST:PORT; port 0 picks a free port (see StartedServer::port).
  std::string listen_address = "0.0.0.0:0";
  // Largest message accepted or sent, either direction; larger ones fail with
  // RESOURCE_EXHAUSTED before they reach the service.
  int64_t max_message_bytes = 16 << 20;
  // Concurrent streams per HTTP/2 connection (0 leaves gRPC's default).
  int max_concurrent_streams = 0;
};

struct StartedServer {
  std::unique_ptr<grpc::Server> server;
  int port = 0;  // the port actually bound
};

// Registers `services` (not owned; they must outlive the server) and starts listening.
// Every service's health (and the server-wide "" entry) is NOT_SERVING on return: the caller
// says SERVING once it is ready (see HealthReporter). UNAVAILABLE when the address cannot be
// bound.
absl::StatusOr<StartedServer> StartGrpcServer(const GrpcServerOptions& options,
                                              const std::vector<grpc::Service*>& services);

}  // namespace corvid::service

#endif  // CORVID_SERVICES_COMMON_GRPC_SERVER_H_
