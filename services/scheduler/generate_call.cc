#include "services/scheduler/generate_call.h"

#include <utility>

namespace corvid::scheduler {

void MergeResponse(v1::GenerateResponse* into, v1::GenerateResponse&& next) {
  if (into->request_id().empty()) into->set_request_id(next.request_id());
  into->mutable_text()->append(next.text());
  into->mutable_token_ids()->MergeFrom(next.token_ids());
  for (auto& lp : *next.mutable_logprobs()) *into->add_logprobs() = std::move(lp);
  if (next.finish_reason() != v1::FINISH_REASON_UNSPECIFIED) {
    into->set_finish_reason(next.finish_reason());
  }
  if (!next.stop().empty()) into->set_stop(next.stop());
  if (next.has_usage()) *into->mutable_usage() = next.usage();
}

void CallHandle::Send(v1::GenerateResponse response) {
  absl::MutexLock lock(&mu_);
  if (call_ == nullptr || finish_requested_) return;
  call_->Queue(std::move(response));
}

void CallHandle::Finish(grpc::Status status, absl::Duration retry_after) {
  absl::MutexLock lock(&mu_);
  if (finish_requested_) return;
  finish_requested_ = true;
  if (call_ != nullptr) call_->RequestFinish(std::move(status), retry_after);
}

void CallHandle::SetCancelHook(std::function<void()> hook) {
  bool run_now = false;
  {
    absl::MutexLock lock(&mu_);
    if (cancelled_) {
      run_now = true;
    } else {
      cancel_hook_ = hook;
    }
  }
  if (run_now) hook();
}

bool CallHandle::cancelled() const {
  absl::MutexLock lock(&mu_);
  return cancelled_;
}

bool CallHandle::finished() const {
  absl::MutexLock lock(&mu_);
  return finish_requested_ || call_ == nullptr;
}

GenerateCall::GenerateCall(grpc::CallbackServerContext* context)
    : context_(context), handle_(std::make_shared<CallHandle>()) {
  absl::MutexLock lock(&handle_->mu_);
  handle_->call_ = this;
}

void GenerateCall::Queue(v1::GenerateResponse response) {
  if (pending_) {
    MergeResponse(&*pending_, std::move(response));
  } else {
    pending_ = std::move(response);
  }
  Pump();
}

void GenerateCall::RequestFinish(grpc::Status status, absl::Duration retry_after) {
  if (retry_after > absl::ZeroDuration()) {
    context_->AddTrailingMetadata("retry-after-ms",
                                  std::to_string(absl::ToInt64Milliseconds(retry_after)));
  }
  finish_status_ = std::move(status);
  Pump();
}

void GenerateCall::Pump() {
  if (write_in_flight_ || finished_) return;
  if (pending_) {
    writing_ = std::move(*pending_);
    pending_.reset();
    write_in_flight_ = true;
    StartWrite(&writing_);
    return;
  }
  if (finish_status_) {
    finished_ = true;
    Finish(*finish_status_);
  }
}

void GenerateCall::OnWriteDone(bool ok) {
  absl::MutexLock lock(&handle_->mu_);
  write_in_flight_ = false;
  if (!ok) {
    // The client is gone; what is left cannot be delivered.
    pending_.reset();
    if (!finish_status_) finish_status_ = grpc::Status(grpc::StatusCode::CANCELLED, "write failed");
  }
  Pump();
}

void GenerateCall::OnCancel() {
  std::function<void()> hook;
  {
    absl::MutexLock lock(&handle_->mu_);
    handle_->cancelled_ = true;
    hook = std::move(handle_->cancel_hook_);
    handle_->cancel_hook_ = nullptr;
    pending_.reset();
    if (!finish_status_) finish_status_ = grpc::Status::CANCELLED;
    Pump();
  }
  if (hook) hook();
}

void GenerateCall::OnDone() {
  {
    absl::MutexLock lock(&handle_->mu_);
    handle_->call_ = nullptr;
  }
  delete this;
}

}  // namespace corvid::scheduler
