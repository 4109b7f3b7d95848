#include "services/common/grpc_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include <limits>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace corvid::service {
namespace {

// Process-wide switches, flipped once (gRPC's two are not thread-safe).
void EnableProcessWideFeatures() {
  static std::once_flag once;
  std::call_once(once, [] {
    // Debian's Abseil is built with mutex deadlock detection on (a debug feature): it records
    // every lock order in a global graph, a measurable cost on every call of a busy server.
    absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
    grpc::EnableDefaultHealthCheckService(true);
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  });
}

}  // namespace

absl::StatusOr<StartedServer> StartGrpcServer(const GrpcServerOptions& options,
                                              const std::vector<grpc::Service*>& services) {
  EnableProcessWideFeatures();
  if (options.max_message_bytes <= 0 ||
      options.max_message_bytes > std::numeric_limits<int>::max()) {
    return absl::InvalidArgumentError(
        absl::StrCat("max message bytes out of range: ", options.max_message_bytes));
  }
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(options.listen_address, grpc::InsecureServerCredentials(), &port);
  builder.SetMaxReceiveMessageSize(static_cast<int>(options.max_message_bytes));
  builder.SetMaxSendMessageSize(static_cast<int>(options.max_message_bytes));
  if (options.max_concurrent_streams > 0) {
    builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, options.max_concurrent_streams);
  }
  // A second process on the same port must fail, not silently share it (gRPC's default
  // SO_REUSEPORT would let two replicas bind one address).
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // Clients keep streams open for hours; let them probe with keepalive pings every 10 s even
  // when idle, and probe them ourselves so dead peers free their state.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 60000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20000);
  for (grpc::Service* service : services) builder.RegisterService(service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.listen_address, " (address in use?)"));
  }
  // The default health service starts out SERVING; say the truth before anyone asks twice.
  if (auto* health = server->GetHealthCheckService()) health->SetServingStatus(false);
  return StartedServer{std::move(server), port};
}

}  // namespace corvid::service
