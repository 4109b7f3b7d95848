#include <grpcpp/client_context.h>

#include <atomic>
#include <memory>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "corvid/v1/tokenizer.grpc.pb.h"
#include "tools/tokenizer_service_bench/load.h"

namespace corvid::bench {
namespace {

// One client: issues the next call from the previous call's completion callback.
class EncodeClient {
 public:
  EncodeClient(std::shared_ptr<grpc::Channel> channel, const std::string& model,
               const std::vector<std::string>* prompts, size_t first, absl::Time end)
      : stub_(v1::Tokenizer::NewStub(channel)), prompts_(prompts), next_(first), end_(end) {
    request_.set_model(model);
    request_.add_texts();
  }

  void Start() {
    context_ = std::make_unique<grpc::ClientContext>();
    context_->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    *request_.mutable_texts(0) = (*prompts_)[next_++ % prompts_->size()];
    response_.Clear();
    started_ = absl::Now();
    stub_->async()->Encode(context_.get(), &request_, &response_,
                           [this](grpc::Status status) { OnDone(status); });
  }

  void Wait() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&done_));
  }

  LoadResult result;

 private:
  void OnDone(const grpc::Status& status) {
    absl::Time now = absl::Now();
    ++result.calls;
    result.latencies_s.push_back(absl::ToDoubleSeconds(now - started_));
    if (status.ok()) {
      result.tokens += response_.total_tokens();
    } else if (result.errors++ == 0) {
      result.first_error = status.error_message();
    }
    if (now < end_) return Start();
    absl::MutexLock lock(&mu_);
    done_ = true;
  }

  std::unique_ptr<v1::Tokenizer::Stub> stub_;
  const std::vector<std::string>* prompts_;
  size_t next_;
  const absl::Time end_;
  v1::EncodeRequest request_;
  v1::EncodeResponse response_;
  std::unique_ptr<grpc::ClientContext> context_;
  absl::Time started_;
  absl::Mutex mu_;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

LoadResult RunEncodeLoad(const std::vector<std::shared_ptr<grpc::Channel>>& channels,
                         const std::string& model, const std::vector<std::string>& prompts,
                         absl::Duration duration) {
  absl::Time start = absl::Now();
  std::vector<std::unique_ptr<EncodeClient>> clients;
  for (size_t i = 0; i < channels.size(); ++i) {
    clients.push_back(
        std::make_unique<EncodeClient>(channels[i], model, &prompts, i * 7919, start + duration));
  }
  for (auto& c : clients) c->Start();
  LoadResult total;
  for (auto& c : clients) {
    c->Wait();
    total.calls += c->result.calls;
    total.errors += c->result.errors;
    total.tokens += c->result.tokens;
    if (total.first_error.empty()) total.first_error = c->result.first_error;
    total.latencies_s.insert(total.latencies_s.end(), c->result.latencies_s.begin(),
                             c->result.latencies_s.end());
  }
  total.elapsed = absl::Now() - start;
  return total;
}

}  // namespace corvid::bench
