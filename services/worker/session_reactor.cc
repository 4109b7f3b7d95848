#include "services/worker/session_reactor.h"

#include <utility>

namespace corvid::worker {

void SessionReactor::Sink::Notify() {
  absl::MutexLock lock(&mu);
  if (reactor_ != nullptr) reactor_->Pump();
}

void SessionReactor::Sink::Detach() {
  absl::MutexLock lock(&mu);
  reactor_ = nullptr;
}

SessionReactor::SessionReactor(WorkerCore* core,
                               std::optional<service::AdmissionGate::Ticket> ticket)
    : core_(core), ticket_(std::move(ticket)), sink_(std::make_shared<Sink>(this)) {
  session_ = core_->OpenSession(sink_);
  StartRead(&request_);
  absl::MutexLock lock(&sink_->mu);
  Pump();  // the first message: capacity only
}

void SessionReactor::OnReadDone(bool ok) {
  if (!ok) {
    // The scheduler closed its side (or the call broke): its requests are cancelled.
    core_->CloseSession(session_);
    absl::MutexLock lock(&sink_->mu);
    Close(grpc::Status::OK);
    Pump();
    return;
  }
  core_->Apply(session_, request_);
  absl::MutexLock lock(&sink_->mu);
  if (!closing_) StartRead(&request_);
  Pump();
}

void SessionReactor::OnWriteDone(bool ok) {
  absl::MutexLock lock(&sink_->mu);
  writing_ = false;
  if (!ok) {
    core_->CloseSession(session_);
    Close(grpc::Status(grpc::StatusCode::UNAVAILABLE, "session write failed"));
  }
  Pump();
}

void SessionReactor::OnCancel() {
  core_->CloseSession(session_);
  absl::MutexLock lock(&sink_->mu);
  Close(grpc::Status::CANCELLED);
  Pump();
}

void SessionReactor::OnDone() {
  sink_->Detach();
  core_->CloseSession(session_);
  delete this;
}

void SessionReactor::Close(grpc::Status status) {
  if (closing_) return;
  closing_ = true;
  final_status_ = std::move(status);
}

void SessionReactor::Pump() {
  if (finished_ || writing_) return;
  if (closing_) {
    finished_ = true;
    Finish(final_status_);
    return;
  }
  if (!core_->TakeOutput(session_, &response_)) return;
  writing_ = true;
  StartWrite(&response_);
}

}  // namespace corvid::worker
