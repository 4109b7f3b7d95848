// The drain sequence every service runs on SIGTERM: stop admitting -> health NOT_SERVING ->
// wait for in-flight calls (bounded by a grace period) -> shut the server down.
#ifndef CORVID_SERVICES_COMMON_DRAIN_H_
#define CORVID_SERVICES_COMMON_DRAIN_H_

#include <grpcpp/server.h>

#include <cstdint>

#include "absl/time/time.h"
#include "services/common/admission.h"
#include "services/common/health.h"

namespace corvid::service {

struct DrainResult {
  int64_t in_flight_at_start = 0;
  // Calls still running when the grace period ended; the server cancelled them.
  int64_t cancelled = 0;
  absl::Duration elapsed;
};

// Runs the sequence above and returns once `server` has shut down (its Wait() then returns).
// Logs each step.
DrainResult DrainServer(grpc::Server* server, AdmissionGate* gate, HealthReporter* health,
                        absl::Duration grace);

// The no-grace counterpart, for a server torn down without a drain (destructors): stop
// admitting, health NOT_SERVING, cancel in-flight calls and shut down; the caller then Wait()s.
// `health` may be null (start-up failed before it existed).
void StopServerNow(grpc::Server* server, AdmissionGate* gate, HealthReporter* health);

}  // namespace corvid::service

#endif  // CORVID_SERVICES_COMMON_DRAIN_H_
