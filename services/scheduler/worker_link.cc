#include "services/scheduler/worker_link.h"

#include <utility>

#include "services/common/status_convert.h"

namespace corvid::scheduler {

void MergeSessionRequest(v1::SessionRequest* into, v1::SessionRequest&& next) {
  into->set_seq(std::max(into->seq(), next.seq()));
  for (auto& a : *next.mutable_admit()) *into->add_admit() = std::move(a);
  into->mutable_cancel()->MergeFrom(next.cancel());
}

// One Session stream: a read always outstanding, one write in flight, queued writes merged.
class WorkerLink::Session
    : public grpc::ClientBidiReactor<v1::SessionRequest, v1::SessionResponse> {
 public:
  Session(WorkerLink* link, uint64_t epoch) : link_(link), epoch_(epoch) {
    link_->stub_->async()->Session(&context_, this);
    // Writes start on other threads (the core's), so OnDone must wait for our say-so: the hold
    // goes once the read side has ended and no write can start any more.
    AddHold();
    StartRead(&response_);
    StartCall();
  }

  void Send(v1::SessionRequest request) {
    absl::MutexLock lock(&mu_);
    if (done_writing_) return;
    if (pending_) {
      MergeSessionRequest(&*pending_, std::move(request));
    } else {
      pending_ = std::move(request);
    }
    PumpLocked();
  }

  void Cancel() { context_.TryCancel(); }

  void OnReadDone(bool ok) override {
    if (!ok) {
      {
        absl::MutexLock lock(&mu_);
        done_writing_ = true;
        pending_.reset();
      }
      RemoveHold();  // OnDone follows with the status
      return;
    }
    link_->callbacks_.on_message(epoch_, std::move(response_));
    response_.Clear();
    StartRead(&response_);
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    in_flight_ = false;
    if (!ok) {
      done_writing_ = true;  // the stream is broken; OnDone follows
      return;
    }
    PumpLocked();
  }

  void OnDone(const grpc::Status& status) override {
    absl::Status s = service::FromGrpcStatus(status);
    if (s.ok()) s = absl::UnavailableError("worker ended the session");
    link_->OnSessionDone(this, epoch_, s);  // deletes this
  }

 private:
  void PumpLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (in_flight_ || !pending_) return;
    writing_ = std::move(*pending_);
    pending_.reset();
    in_flight_ = true;
    StartWrite(&writing_);
  }

  WorkerLink* link_;
  const uint64_t epoch_;
  grpc::ClientContext context_;
  v1::SessionResponse response_;
  absl::Mutex mu_;
  v1::SessionRequest writing_ ABSL_GUARDED_BY(mu_);
  std::optional<v1::SessionRequest> pending_ ABSL_GUARDED_BY(mu_);
  bool in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool done_writing_ ABSL_GUARDED_BY(mu_) = false;
};

WorkerLink::WorkerLink(std::string address, WorkerLinkCallbacks callbacks,
                       absl::Duration info_timeout)
    : address_(std::move(address)), callbacks_(std::move(callbacks)), info_timeout_(info_timeout) {
  grpc::ChannelArguments args;
  // Find a dead worker fast even when it vanished without closing the connection.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // Reconnection pacing is ours (Connect()); keep gRPC's own backoff short.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetMaxReceiveMessageSize(64 << 20);
  args.SetMaxSendMessageSize(64 << 20);
  channel_ = grpc::CreateCustomChannel(address_, grpc::InsecureChannelCredentials(), args);
  stub_ = v1::Worker::NewStub(channel_);
}

WorkerLink::~WorkerLink() {
  Close();
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](bool* busy) { return !*busy; }, &busy_));
}

uint64_t WorkerLink::Connect() {
  absl::MutexLock lock(&mu_);
  if (busy_ || closing_) return 0;
  busy_ = true;
  const uint64_t epoch = ++epoch_;
  info_context_ = std::make_unique<grpc::ClientContext>();
  info_context_->set_deadline(absl::ToChronoTime(absl::Now() + info_timeout_));
  info_context_->set_wait_for_ready(false);
  info_.Clear();
  stub_->async()->Info(info_context_.get(), &info_request_, &info_,
                       [this, epoch](grpc::Status status) { OnInfo(epoch, status); });
  return epoch;
}

void WorkerLink::OnInfo(uint64_t epoch, grpc::Status status) {
  v1::WorkerInfo info;
  {
    absl::MutexLock lock(&mu_);
    if (status.ok() && !closing_) info = info_;
  }
  if (!status.ok() || info.model().empty()) {
    absl::Status s = status.ok() ? absl::UnavailableError("worker link closing")
                                 : service::FromGrpcStatus(status);
    callbacks_.on_down(epoch, s);
    absl::MutexLock lock(&mu_);
    busy_ = false;
    return;
  }
  // on_up goes out before the session exists, so it precedes the session's first message.
  callbacks_.on_up(epoch, info);
  {
    absl::MutexLock lock(&mu_);
    if (!closing_) {
      session_ = new Session(this, epoch);
      return;
    }
  }
  callbacks_.on_down(epoch, absl::UnavailableError("worker link closing"));
  absl::MutexLock lock(&mu_);
  busy_ = false;
}

bool WorkerLink::Send(uint64_t epoch, v1::SessionRequest request) {
  absl::MutexLock lock(&mu_);
  if (session_ == nullptr || epoch != epoch_) return false;
  session_->Send(std::move(request));
  return true;
}

void WorkerLink::Close() {
  absl::MutexLock lock(&mu_);
  closing_ = true;
  if (session_ != nullptr) session_->Cancel();
  if (info_context_ != nullptr) info_context_->TryCancel();
}

void WorkerLink::OnSessionDone(Session* session, uint64_t epoch, absl::Status status) {
  {
    absl::MutexLock lock(&mu_);
    session_ = nullptr;  // Send() uses it under mu_ only
  }
  delete session;
  callbacks_.on_down(epoch, std::move(status));
  absl::MutexLock lock(&mu_);
  busy_ = false;  // the destructor may go ahead now
}

}  // namespace corvid::scheduler
