#include "services/common/drain.h"

#include "services/common/logging.h"

namespace corvid::service {

DrainResult DrainServer(grpc::Server* server, AdmissionGate* gate, HealthReporter* health,
                        absl::Duration grace) {
  absl::Time start = absl::Now();
  DrainResult result;
  gate->StopAdmitting();
  health->SetServing(false);
  result.in_flight_at_start = gate->in_flight();
  LogInfo("draining",
          {{"in_flight", result.in_flight_at_start}, {"grace_s", absl::ToDoubleSeconds(grace)}});
  absl::Time deadline = start + grace;
  if (!gate->WaitIdle(deadline)) {
    result.cancelled = gate->in_flight();
    LogWarning("grace period over, cancelling calls", {{"in_flight", result.cancelled}});
  }
  health->Shutdown();
  // A short deadline even when idle: health Watch streams count as calls to the server but not
  // to the gate, and must not hold the exit.
  server->Shutdown(absl::ToChronoTime(absl::Now() + absl::Milliseconds(100)));
  result.elapsed = absl::Now() - start;
  LogInfo("drained", {{"elapsed_ms", absl::ToInt64Milliseconds(result.elapsed)},
                      {"cancelled", result.cancelled}});
  return result;
}

void StopServerNow(grpc::Server* server, AdmissionGate* gate, HealthReporter* health) {
  gate->StopAdmitting();
  if (health != nullptr) health->Shutdown();
  server->Shutdown(absl::ToChronoTime(absl::Now()));
}

}  // namespace corvid::service
