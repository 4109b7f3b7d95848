// DetokenizeStream's bidi reactor: reads one request message at a time, detokenizes it inline
// (bounded by max_ids_per_batch), queues the reply, and keeps exactly one write in flight.
// Flow control: while kMaxQueuedReplies replies wait to be written, no further read is started,
// so a client that stops reading stalls its own stream instead of growing server memory.
//
// Drain: a stream admitted before draining began goes on serving the sequences it has; new
// sequences get an UNAVAILABLE item error, and once no sequence is live the stream ends with
// UNAVAILABLE ("draining") so the client reopens it on another replica.
#ifndef CORVID_SERVICES_TOKENIZER_DETOKENIZE_REACTOR_H_
#define CORVID_SERVICES_TOKENIZER_DETOKENIZE_REACTOR_H_

#include <grpcpp/support/server_callback.h>

#include <cstdint>
#include <deque>
#include <optional>

#include "absl/synchronization/mutex.h"
#include "corvid/v1/tokenizer.pb.h"
#include "services/common/admission.h"
#include "services/tokenizer/detokenize_session.h"
#include "services/tokenizer/limits.h"
#include "services/tokenizer/model_registry.h"
#include "services/tokenizer/service_metrics.h"

namespace corvid::tokenizer_service {

class DetokenizeReactor final
    : public grpc::ServerBidiReactor<v1::DetokenizeRequest, v1::DetokenizeResponse> {
 public:
  static constexpr size_t kMaxQueuedReplies = 8;

  // `registry` is null while the server is loading (the stream then ends with UNAVAILABLE).
  DetokenizeReactor(const ModelRegistry* registry, const Limits& limits,
                    service::AdmissionGate* gate, ServiceMetrics* metrics);

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  // What to do after a state change; decided under mu_, done outside it (gRPC operations are
  // never started while holding the lock).
  struct Actions {
    const v1::DetokenizeResponse* write = nullptr;
    bool read = false;
    std::optional<grpc::Status> finish;
  };

  ~DetokenizeReactor() override;
  void OnDrain();
  // Ends the stream with `status` once queued replies are written (first call wins).
  void RequestFinishLocked(grpc::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Actions NextActionsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Perform(const Actions& actions);

  service::AdmissionGate* gate_;
  ServiceMetrics* metrics_;
  std::optional<service::AdmissionGate::Ticket> ticket_;
  int64_t drain_listener_ = -1;
  grpc::StatusCode final_code_ = grpc::StatusCode::OK;

  // Touched only by the thread running OnReadDone (one read is outstanding at a time).
  v1::DetokenizeRequest request_;
  std::optional<DetokenizeSession> session_;
  int64_t reported_live_ = 0;

  absl::Mutex mu_;
  std::deque<v1::DetokenizeResponse> replies_ ABSL_GUARDED_BY(mu_);  // front is being written
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool reading_ ABSL_GUARDED_BY(mu_) = false;     // a read is outstanding or being processed
  bool processing_ ABSL_GUARDED_BY(mu_) = false;  // OnReadDone is working on request_
  bool reads_done_ ABSL_GUARDED_BY(mu_) = false;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  int64_t live_sequences_ ABSL_GUARDED_BY(mu_) = 0;
  std::optional<grpc::Status> finish_status_ ABSL_GUARDED_BY(mu_);
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace corvid::tokenizer_service

#endif  // CORVID_SERVICES_TOKENIZER_DETOKENIZE_REACTOR_H_
