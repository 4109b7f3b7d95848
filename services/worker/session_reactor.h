// One scheduler's Session stream. Reads admissions/cancellations and applies them to the core
// at once (the core never blocks); writes the core's pending output with one write in flight,
// taking whatever accumulated while the previous write was on the wire.
#ifndef CORVID_SERVICES_WORKER_SESSION_REACTOR_H_
#define CORVID_SERVICES_WORKER_SESSION_REACTOR_H_

#include <memory>
#include <optional>

#include "absl/synchronization/mutex.h"
#include "corvid/v1/worker.grpc.pb.h"
#include "services/common/admission.h"
#include "services/worker/worker_core.h"

namespace corvid::worker {

class SessionReactor : public grpc::ServerBidiReactor<v1::SessionRequest, v1::SessionResponse> {
 public:
  // Starts reading at once; `ticket` (may be empty) holds the drain open while the session
  // lives.
  SessionReactor(WorkerCore* core, std::optional<service::AdmissionGate::Ticket> ticket);

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  // Shared with the core so that the engine thread can wake the reactor; cleared in OnDone,
  // after which nothing calls into the reactor.
  class Sink : public SessionSink {
   public:
    explicit Sink(SessionReactor* reactor) : reactor_(reactor) {}
    void Notify() override;
    void Detach();
    absl::Mutex mu;

   private:
    SessionReactor* reactor_ ABSL_GUARDED_BY(mu);
  };

  // With sink_->mu held: starts a write when none is in flight and output is pending, or
  // finishes the call once it is closing and nothing is in flight.
  void Pump() ABSL_EXCLUSIVE_LOCKS_REQUIRED(sink_->mu);
  void Close(grpc::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(sink_->mu);

  WorkerCore* core_;
  std::optional<service::AdmissionGate::Ticket> ticket_;
  std::shared_ptr<Sink> sink_;
  int session_ = 0;
  v1::SessionRequest request_;
  v1::SessionResponse response_ ABSL_GUARDED_BY(sink_->mu);
  bool writing_ ABSL_GUARDED_BY(sink_->mu) = false;
  bool closing_ ABSL_GUARDED_BY(sink_->mu) = false;
  bool finished_ ABSL_GUARDED_BY(sink_->mu) = false;
  grpc::Status final_status_ ABSL_GUARDED_BY(sink_->mu);
};

}  // namespace corvid::worker

#endif  // CORVID_SERVICES_WORKER_SESSION_REACTOR_H_
