#include "services/scheduler/detok_stream.h"

#include <deque>
#include <utility>

#include "services/common/status_convert.h"

namespace corvid::scheduler {

class DetokStream::Reactor
    : public grpc::ClientBidiReactor<v1::DetokenizeRequest, v1::DetokenizeResponse> {
 public:
  Reactor(std::shared_ptr<DetokStream> owner, v1::Tokenizer::Stub* stub,
          DetokStreamCallbacks callbacks)
      : owner_(std::move(owner)), callbacks_(std::move(callbacks)) {
    stub->async()->DetokenizeStream(&context_, this);
    // Writes start on the owner's thread: OnDone must wait until the read side has ended.
    AddHold();
  }

  void Start() {
    StartRead(&response_);
    StartCall();
  }

  void Send(v1::DetokenizeRequest request) {
    absl::MutexLock lock(&mu_);
    if (ended_) return;
    queue_.push_back(std::move(request));
    PumpLocked();
  }

  void Cancel() { context_.TryCancel(); }

  void OnReadDone(bool ok) override {
    if (!ok) {
      {
        absl::MutexLock lock(&mu_);
        ended_ = true;
        queue_.clear();
      }
      RemoveHold();
      return;
    }
    callbacks_.on_response(std::move(response_));
    response_.Clear();
    StartRead(&response_);
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    in_flight_ = false;
    if (!ok) {
      ended_ = true;
      queue_.clear();
      return;
    }
    PumpLocked();
  }

  void OnDone(const grpc::Status& status) override {
    absl::Status s = service::FromGrpcStatus(status);
    if (s.ok()) s = absl::UnavailableError("tokenizer ended the detokenize stream");
    {
      absl::MutexLock lock(&owner_->mu_);
      owner_->reactor_ = nullptr;
    }
    DetokStreamCallbacks callbacks = std::move(callbacks_);
    delete this;
    callbacks.on_down(s);
  }

 private:
  void PumpLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (in_flight_ || queue_.empty() || ended_) return;
    writing_ = std::move(queue_.front());
    queue_.pop_front();
    in_flight_ = true;
    StartWrite(&writing_);
  }

  std::shared_ptr<DetokStream> owner_;
  DetokStreamCallbacks callbacks_;
  grpc::ClientContext context_;
  v1::DetokenizeResponse response_;
  absl::Mutex mu_;
  std::deque<v1::DetokenizeRequest> queue_ ABSL_GUARDED_BY(mu_);
  v1::DetokenizeRequest writing_ ABSL_GUARDED_BY(mu_);
  bool in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
};

std::shared_ptr<DetokStream> DetokStream::Open(v1::Tokenizer::Stub* stub,
                                               DetokStreamCallbacks callbacks) {
  std::shared_ptr<DetokStream> stream(new DetokStream());
  Reactor* reactor = new Reactor(stream, stub, std::move(callbacks));
  {
    absl::MutexLock lock(&stream->mu_);
    stream->reactor_ = reactor;
  }
  reactor->Start();
  return stream;
}

void DetokStream::Send(v1::DetokenizeRequest request) {
  absl::MutexLock lock(&mu_);
  if (reactor_ != nullptr) reactor_->Send(std::move(request));
}

void DetokStream::Cancel() {
  absl::MutexLock lock(&mu_);
  if (reactor_ != nullptr) reactor_->Cancel();
}

}  // namespace corvid::scheduler
