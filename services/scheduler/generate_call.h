// The server side of one Generate stream. The scheduler core talks to it through a CallHandle
// (thread-safe, outlives the reactor); the reactor keeps one write in flight and merges
// responses that arrive meanwhile into one, so a slow client costs memory bounded by its own
// tokens and never blocks the core.
#ifndef CORVID_SERVICES_SCHEDULER_GENERATE_CALL_H_
#define CORVID_SERVICES_SCHEDULER_GENERATE_CALL_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <optional>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "corvid/v1/generation.pb.h"
#include "services/common/admission.h"

namespace corvid::scheduler {

class GenerateCall;

// What the core holds of a call. All methods are thread-safe and do nothing once the call is
// over (finished, or the reactor is gone).
class CallHandle {
 public:
  // Queues a delta (merged with any not yet written).
  void Send(v1::GenerateResponse response);
  // Ends the call once queued responses are written. `retry_after` > 0 adds the
  // `retry-after-ms` trailing metadata. Only the first call counts.
  void Finish(grpc::Status status, absl::Duration retry_after = absl::ZeroDuration());
  // Runs `hook` (on a gRPC thread) when the client cancels or the deadline passes; at once if
  // that already happened.
  void SetCancelHook(std::function<void()> hook);
  bool cancelled() const;
  bool finished() const;

 private:
  friend class GenerateCall;
  mutable absl::Mutex mu_;
  GenerateCall* call_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_requested_ ABSL_GUARDED_BY(mu_) = false;
  std::function<void()> cancel_hook_ ABSL_GUARDED_BY(mu_);
};

class GenerateCall : public grpc::ServerWriteReactor<v1::GenerateResponse> {
 public:
  explicit GenerateCall(grpc::CallbackServerContext* context);
  std::shared_ptr<CallHandle> handle() const { return handle_; }
  grpc::CallbackServerContext* context() const { return context_; }
  // Keeps the drain waiting until this call is over (set before the call is handed on).
  void HoldTicket(service::AdmissionGate::Ticket ticket) { ticket_.emplace(std::move(ticket)); }

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  friend class CallHandle;
  // With handle_->mu_ held.
  void Queue(v1::GenerateResponse response);
  void RequestFinish(grpc::Status status, absl::Duration retry_after);
  void Pump();

  grpc::CallbackServerContext* context_;
  std::shared_ptr<CallHandle> handle_;
  std::optional<service::AdmissionGate::Ticket> ticket_;
  // Guarded by handle_->mu_.
  v1::GenerateResponse writing_;
  std::optional<v1::GenerateResponse> pending_;
  bool write_in_flight_ = false;
  std::optional<grpc::Status> finish_status_;
  bool finished_ = false;
};

// Appends `next` to `into` (text, ids, logprobs; the final fields when `next` has them).
void MergeResponse(v1::GenerateResponse* into, v1::GenerateResponse&& next);

}  // namespace corvid::scheduler

#endif  // CORVID_SERVICES_SCHEDULER_GENERATE_CALL_H_
