#include "services/scheduler/tokenizer_pool.h"

#include <grpcpp/alarm.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "services/common/status_convert.h"

namespace corvid::scheduler {

// One Encode with its retries. Deletes itself after calling `done`.
class TokenizerPool::EncodeCall {
 public:
  EncodeCall(TokenizerPool* pool, std::string text, bool add_special, absl::Time deadline,
             EncodeDone done)
      : pool_(pool), deadline_(deadline), done_(std::move(done)) {
    request_.set_model(pool->options_.model);
    request_.add_texts(std::move(text));
    request_.set_add_special_tokens(add_special);
  }

  void Attempt() {
    if (pool_->shutting_down()) {
      return Finish(absl::UnavailableError("scheduler shutting down"));
    }
    replica_ = pool_->Pick();
    ++attempts_;
    context_ = std::make_unique<grpc::ClientContext>();
    context_->set_deadline(
        absl::ToChronoTime(std::min(deadline_, absl::Now() + pool_->options_.attempt_timeout)));
    response_.Clear();
    pool_->stub(replica_)->async()->Encode(context_.get(), &request_, &response_,
                                           [this](grpc::Status s) { OnDone(s); });
  }

 private:
  void OnDone(const grpc::Status& status) {
    if (status.ok()) {
      pool_->MarkUp(replica_);
      if (response_.results_size() != 1) {
        return Finish(absl::InternalError("tokenizer returned no result"));
      }
      const auto& ids = response_.results(0).ids();
      return Finish(std::vector<int32_t>(ids.begin(), ids.end()));
    }
    const bool retryable = status.error_code() == grpc::StatusCode::UNAVAILABLE ||
                           status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED ||
                           (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED &&
                            absl::Now() < deadline_);
    if (!retryable || attempts_ >= pool_->options_.max_attempts || absl::Now() >= deadline_) {
      return Finish(MapError(status));
    }
    if (status.error_code() != grpc::StatusCode::RESOURCE_EXHAUSTED) pool_->MarkDown(replica_);
    // Another replica may be up: try it at once; when all look down, back off first.
    bool all_down = true;
    for (int i = 0; i < pool_->size(); ++i) all_down = all_down && pool_->IsDown(i);
    if (!all_down) return Attempt();
    absl::Duration backoff = std::min(pool_->options_.initial_backoff * (1 << (attempts_ - 1)),
                                      pool_->options_.max_backoff);
    alarm_.Set(absl::ToChronoTime(absl::Now() + backoff), [this](bool) { Attempt(); });
  }

  absl::Status MapError(const grpc::Status& status) {
    absl::Status s = service::FromGrpcStatus(status);
    if (s.code() == absl::StatusCode::kInvalidArgument) {
      // The tokenizer names its own field ("texts[0]"); the client sent `text`.
      return absl::InvalidArgumentError(
          absl::StrReplaceAll(s.message(), {{"texts[0]", "text"}}));
    }
    if (s.code() == absl::StatusCode::kUnavailable ||
        s.code() == absl::StatusCode::kDeadlineExceeded) {
      return absl::Status(s.code(), absl::StrCat("tokenizer tier: ", s.message(), " (after ",
                                                 attempts_, " attempts)"));
    }
    return s;
  }

  void Finish(absl::StatusOr<std::vector<int32_t>> result) {
    EncodeDone done = std::move(done_);
    TokenizerPool* pool = pool_;
    delete this;
    done(std::move(result));
    pool->CallEnded();
  }

  TokenizerPool* pool_;
  const absl::Time deadline_;
  EncodeDone done_;
  v1::EncodeRequest request_;
  v1::EncodeResponse response_;
  std::unique_ptr<grpc::ClientContext> context_;
  grpc::Alarm alarm_;
  int replica_ = 0;
  int attempts_ = 0;
};

TokenizerPool::TokenizerPool(std::vector<std::string> addresses, TokenizerPoolOptions options)
    : options_(std::move(options)) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
  args.SetMaxReceiveMessageSize(64 << 20);
  args.SetMaxSendMessageSize(64 << 20);
  // A dns:/// address naming several replicas (a Kubernetes service) spreads calls over all.
  args.SetServiceConfigJSON(R"({"loadBalancingConfig":[{"round_robin":{}}]})");
  for (std::string& a : addresses) {
    Replica r;
    r.address = std::move(a);
    r.channel = grpc::CreateCustomChannel(r.address, grpc::InsecureChannelCredentials(), args);
    r.stub = v1::Tokenizer::NewStub(r.channel);
    replicas_.push_back(std::move(r));
  }
  down_until_.assign(replicas_.size(), absl::InfinitePast());
}

TokenizerPool::~TokenizerPool() { Shutdown(); }

void TokenizerPool::Shutdown() {
  absl::MutexLock lock(&mu_);
  shut_down_ = true;
  mu_.Await(absl::Condition(+[](int64_t* n) { return *n == 0; }, &in_flight_));
}

bool TokenizerPool::shutting_down() const {
  absl::MutexLock lock(&mu_);
  return shut_down_;
}

void TokenizerPool::Encode(std::string text, bool add_special_tokens, absl::Time deadline,
                           EncodeDone done) {
  bool refuse = false;
  {
    absl::MutexLock lock(&mu_);
    refuse = shut_down_;
    if (!refuse) ++in_flight_;
  }
  if (refuse) return done(absl::UnavailableError("scheduler shutting down"));
  auto* call = new EncodeCall(this, std::move(text), add_special_tokens, deadline, std::move(done));
  call->Attempt();
}

void TokenizerPool::CallEnded() {
  absl::MutexLock lock(&mu_);
  --in_flight_;
}

int TokenizerPool::Pick() {
  absl::MutexLock lock(&mu_);
  const absl::Time now = absl::Now();
  const size_t n = replicas_.size();
  for (size_t k = 0; k < n; ++k) {
    size_t i = (next_ + k) % n;
    if (down_until_[i] <= now) {
      next_ = i + 1;
      return static_cast<int>(i);
    }
  }
  // All down: the one that has been down longest.
  size_t best = std::min_element(down_until_.begin(), down_until_.end()) - down_until_.begin();
  next_ = best + 1;
  return static_cast<int>(best);
}

void TokenizerPool::MarkDown(int i) {
  absl::MutexLock lock(&mu_);
  down_until_[i] = absl::Now() + options_.down_period;
}

void TokenizerPool::MarkUp(int i) {
  absl::MutexLock lock(&mu_);
  down_until_[i] = absl::InfinitePast();
}

bool TokenizerPool::IsDown(int i) const {
  absl::MutexLock lock(&mu_);
  return down_until_[i] > absl::Now();
}

}  // namespace corvid::scheduler
