// The flags every corvid service shares, registered on the service's FlagSet.
#ifndef CORVID_SERVICES_COMMON_SERVER_FLAGS_H_
#define CORVID_SERVICES_COMMON_SERVER_FLAGS_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "services/common/flags.h"
#include "services/common/grpc_server.h"

namespace corvid::service {

struct ServerFlags {
  std::string listen = "0.0.0.0:50051";
  // HTTP port for /metrics; -1 disables it, 0 picks a free one.
  int64_t metrics_port = 9090;
  std::string metrics_host = "0.0.0.0";
  int64_t max_message_bytes = 16 << 20;
  int64_t max_concurrent_streams = 0;
  double grace_period_s = 20.0;
  std::string log_level = "info";

  GrpcServerOptions ToServerOptions() const;
  absl::Duration grace_period() const { return absl::Seconds(grace_period_s); }
  // "host:port" for the metrics endpoint.
  std::string MetricsAddress() const;
};

// Set the service's own defaults in `values` (e.g. its listen port) before registering.
void RegisterServerFlags(FlagSet& flags, ServerFlags* values);
// INVALID_ARGUMENT naming the flag whose value is out of range.
absl::Status ValidateServerFlags(const ServerFlags& values);

}  // namespace corvid::service

#endif  // CORVID_SERVICES_COMMON_SERVER_FLAGS_H_
