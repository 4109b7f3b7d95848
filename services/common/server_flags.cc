#include "services/common/server_flags.h"

#include "absl/strings/str_cat.h"

namespace corvid::service {

GrpcServerOptions ServerFlags::ToServerOptions() const {
  GrpcServerOptions options;
  options.listen_address = listen;
  options.max_message_bytes = max_message_bytes;
  options.max_concurrent_streams = static_cast<int>(max_concurrent_streams);
  return options;
}

std::string ServerFlags::MetricsAddress() const {
  return absl::StrCat(metrics_host, ":", metrics_port);
}

void RegisterServerFlags(FlagSet& flags, ServerFlags* v) {
  flags.AddString("listen", &v->listen, "gRPC listen address HOST:PORT (port 0: any free port)");
  flags.AddInt("metrics-port", &v->metrics_port,
               "Prometheus /metrics HTTP port (-1: no endpoint, 0: any free port)");
  flags.AddString("metrics-host", &v->metrics_host, "address the /metrics endpoint binds");
  flags.AddInt("max-message-bytes", &v->max_message_bytes,
               "largest gRPC message accepted or sent, either direction");
  flags.AddInt("max-concurrent-streams", &v->max_concurrent_streams,
               "concurrent streams per HTTP/2 connection (0: gRPC's default)");
  flags.AddDouble("grace-period-s", &v->grace_period_s,
                  "on SIGTERM, how long in-flight calls may run before they are cancelled");
  flags.AddString("log-level", &v->log_level, "debug, info, warning or error");
}

absl::Status ValidateServerFlags(const ServerFlags& v) {
  if (v.listen.empty()) return absl::InvalidArgumentError("--listen must not be empty");
  if (v.metrics_port < -1 || v.metrics_port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--metrics-port=", v.metrics_port, ": expected -1..65535"));
  }
  if (v.max_message_bytes < 1024 || v.max_message_bytes > (int64_t{1} << 30)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--max-message-bytes=", v.max_message_bytes, ": expected 1 KiB..1 GiB"));
  }
  if (v.max_concurrent_streams < 0) {
    return absl::InvalidArgumentError("--max-concurrent-streams must be >= 0");
  }
  if (!(v.grace_period_s >= 0)) {
    return absl::InvalidArgumentError("--grace-period-s must be >= 0");
  }
  return absl::OkStatus();
}

}  // namespace corvid::service
