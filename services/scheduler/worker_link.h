// The scheduler's connection to one worker: Info, then one long-lived Session stream. Incoming
// messages and state changes go to callbacks (called on gRPC threads; they must not block).
// Every connection attempt has its own epoch, so the owner can ignore what a dead session says
// late. Reconnecting is the owner's decision (it calls Connect() again after backoff).
#ifndef CORVID_SERVICES_SCHEDULER_WORKER_LINK_H_
#define CORVID_SERVICES_SCHEDULER_WORKER_LINK_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "corvid/v1/worker.grpc.pb.h"

namespace corvid::scheduler {

struct WorkerLinkCallbacks {
  std::function<void(uint64_t epoch, const v1::WorkerInfo& info)> on_up;
  std::function<void(uint64_t epoch, v1::SessionResponse response)> on_message;
  // The attempt failed or the session ended. Called exactly once per Connect().
  std::function<void(uint64_t epoch, absl::Status status)> on_down;
};

class WorkerLink {
 public:
  WorkerLink(std::string address, WorkerLinkCallbacks callbacks,
             absl::Duration info_timeout = absl::Seconds(2));
  ~WorkerLink();  // cancels the session and waits for it to end
  WorkerLink(const WorkerLink&) = delete;
  WorkerLink& operator=(const WorkerLink&) = delete;

  const std::string& address() const { return address_; }
  // Starts an attempt (Info, then Session); returns its epoch. Ignored (returns 0) while an
  // attempt or session is live.
  uint64_t Connect();
  // Queues a message on the live session of `epoch`; merged with messages not yet written.
  // False when that session is gone.
  bool Send(uint64_t epoch, v1::SessionRequest request);
  // Ends the live session, if any (its on_down follows).
  void Close();

 private:
  class Session;
  void OnInfo(uint64_t epoch, grpc::Status status);
  void OnSessionDone(Session* session, uint64_t epoch, absl::Status status);

  const std::string address_;
  const WorkerLinkCallbacks callbacks_;
  const absl::Duration info_timeout_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Worker::Stub> stub_;

  absl::Mutex mu_;
  uint64_t epoch_ ABSL_GUARDED_BY(mu_) = 0;
  bool busy_ ABSL_GUARDED_BY(mu_) = false;  // an attempt or session is live
  Session* session_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::unique_ptr<grpc::ClientContext> info_context_ ABSL_GUARDED_BY(mu_);
  v1::WorkerInfoRequest info_request_;
  v1::WorkerInfo info_ ABSL_GUARDED_BY(mu_);
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
};

// Merges `next` into `into`: admissions and cancellations appended, seq = the later one.
void MergeSessionRequest(v1::SessionRequest* into, v1::SessionRequest&& next);

}  // namespace corvid::scheduler

#endif  // CORVID_SERVICES_SCHEDULER_WORKER_LINK_H_
