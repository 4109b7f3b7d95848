#include "services/tokenizer/detokenize_reactor.h"

#include <utility>

#include "services/common/status_convert.h"

namespace corvid::tokenizer_service {

DetokenizeReactor::DetokenizeReactor(const ModelRegistry* registry, const Limits& limits,
                                     service::AdmissionGate* gate, ServiceMetrics* metrics)
    : gate_(gate), metrics_(metrics), ticket_(gate->TryEnter()) {
  metrics_->open_streams().Increment();
  Actions actions;
  {
    absl::MutexLock lock(&mu_);
    if (!ticket_.has_value()) {
      RequestFinishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE, "server is draining"));
    } else if (registry == nullptr) {
      RequestFinishLocked(
          grpc::Status(grpc::StatusCode::UNAVAILABLE, "server is loading its tokenizers"));
    } else {
      session_.emplace(*registry, limits);
    }
    actions = NextActionsLocked();
  }
  // Registered outside mu_: the gate runs the listener at once if draining already began.
  if (session_.has_value()) drain_listener_ = gate_->AddDrainListener([this] { OnDrain(); });
  Perform(actions);
}

DetokenizeReactor::~DetokenizeReactor() = default;

void DetokenizeReactor::RequestFinishLocked(grpc::Status status) {
  if (!finish_status_.has_value()) finish_status_ = std::move(status);
}

DetokenizeReactor::Actions DetokenizeReactor::NextActionsLocked() {
  Actions actions;
  if (finished_) return actions;
  if (!writing_ && !replies_.empty()) {
    writing_ = true;
    actions.write = &replies_.front();
  }
  if (!reading_ && !reads_done_ && !finish_status_.has_value() &&
      replies_.size() < kMaxQueuedReplies) {
    reading_ = true;
    actions.read = true;
  }
  if (finish_status_.has_value() && !writing_ && replies_.empty()) {
    finished_ = true;
    actions.finish = *finish_status_;
  }
  return actions;
}

void DetokenizeReactor::Perform(const Actions& actions) {
  if (actions.write != nullptr) StartWrite(actions.write);
  if (actions.read) StartRead(&request_);
  if (actions.finish.has_value()) {
    final_code_ = actions.finish->error_code();  // read in OnDone, which follows Finish
    Finish(*actions.finish);
  }
}

void DetokenizeReactor::OnReadDone(bool ok) {
  if (!ok) {  // the client half-closed (or the call broke): finish once replies are out
    Actions actions;
    {
      absl::MutexLock lock(&mu_);
      reading_ = false;
      reads_done_ = true;
      RequestFinishLocked(grpc::Status::OK);
      actions = NextActionsLocked();
    }
    Perform(actions);
    return;
  }
  bool admit_new;
  {
    absl::MutexLock lock(&mu_);
    processing_ = true;
    admit_new = !draining_;
  }
  v1::DetokenizeResponse reply;
  int64_t ids_before = session_->ids_consumed();
  absl::Status status = session_->Apply(request_, admit_new, &reply);
  metrics_->AddDetokenizedTokens(session_->ids_consumed() - ids_before);
  int64_t live = session_->live_sequences();
  metrics_->live_sequences().Increment(static_cast<double>(live - reported_live_));
  reported_live_ = live;
  Actions actions;
  {
    absl::MutexLock lock(&mu_);
    reading_ = false;  // only now: request_ is free for the next read
    processing_ = false;
    live_sequences_ = live;
    if (!status.ok()) {
      RequestFinishLocked(service::ToGrpcStatus(status));
    } else if (!finish_status_.has_value()) {
      replies_.push_back(std::move(reply));
      if (draining_ && live == 0) {
        RequestFinishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE, "server is draining"));
      }
    }
    actions = NextActionsLocked();
  }
  Perform(actions);
}

void DetokenizeReactor::OnWriteDone(bool ok) {
  Actions actions;
  {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    replies_.pop_front();
    if (!ok) {  // the stream is broken: nothing more can be sent
      replies_.clear();
      RequestFinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "write failed"));
    }
    actions = NextActionsLocked();
  }
  Perform(actions);
}

void DetokenizeReactor::OnCancel() {
  Actions actions;
  {
    absl::MutexLock lock(&mu_);
    RequestFinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
    actions = NextActionsLocked();
  }
  Perform(actions);
}

void DetokenizeReactor::OnDrain() {
  Actions actions;
  {
    absl::MutexLock lock(&mu_);
    draining_ = true;
    // With a message being processed, OnReadDone makes this decision once it is done.
    if (live_sequences_ == 0 && !processing_) {
      RequestFinishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE, "server is draining"));
    }
    actions = NextActionsLocked();
  }
  Perform(actions);
}

void DetokenizeReactor::OnDone() {
  if (drain_listener_ >= 0) gate_->RemoveDrainListener(drain_listener_);
  metrics_->live_sequences().Decrement(static_cast<double>(reported_live_));
  metrics_->open_streams().Decrement();
  metrics_->RecordCall(Method::kDetokenizeStream, final_code_, 0);
  delete this;
}

}  // namespace corvid::tokenizer_service
