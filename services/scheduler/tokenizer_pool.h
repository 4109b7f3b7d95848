// The scheduler's client of the tokenizer tier: several interchangeable corvid-tokenizer
// replicas, balanced round-robin on the client side. A replica that answers UNAVAILABLE (or
// cannot be reached) is skipped for a backoff period and the call is retried on the next one, so
// one replica down fails no request. Everything is asynchronous: callbacks run on gRPC threads,
// never on the scheduler's batching thread.
#ifndef CORVID_SERVICES_SCHEDULER_TOKENIZER_POOL_H_
#define CORVID_SERVICES_SCHEDULER_TOKENIZER_POOL_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "corvid/v1/tokenizer.grpc.pb.h"

namespace corvid::scheduler {

struct TokenizerPoolOptions {
  std::string model;  // tokenizer model name; empty = the replicas' default
  int max_attempts = 6;
  absl::Duration attempt_timeout = absl::Seconds(5);
  absl::Duration initial_backoff = absl::Milliseconds(10);
  absl::Duration max_backoff = absl::Milliseconds(500);
  // How long a replica that failed is skipped.
  absl::Duration down_period = absl::Milliseconds(500);
};

using EncodeDone = std::function<void(absl::StatusOr<std::vector<int32_t>>)>;

class TokenizerPool {
 public:
  TokenizerPool(std::vector<std::string> addresses, TokenizerPoolOptions options);
  ~TokenizerPool();  // Shutdown()

  // Calls still retrying give up (UNAVAILABLE) instead of trying again; returns once no call is
  // in flight, so nothing calls back afterwards. Encode after this fails at once.
  void Shutdown();

  int size() const { return static_cast<int>(replicas_.size()); }
  const std::string& address(int i) const { return replicas_[i].address; }
  v1::Tokenizer::Stub* stub(int i) { return replicas_[i].stub.get(); }
  const TokenizerPoolOptions& options() const { return options_; }

  // Text -> ids. `done` gets the ids, or: INVALID_ARGUMENT naming `text` (the tokenizer refused
  // it), UNAVAILABLE when no replica answered within the attempts, DEADLINE_EXCEEDED past
  // `deadline`.
  void Encode(std::string text, bool add_special_tokens, absl::Time deadline, EncodeDone done);

  // The replica to use next: round-robin over those not marked down (any when all are).
  int Pick();
  // A call to replica `i` failed for reachability; it is skipped for down_period.
  void MarkDown(int i);
  void MarkUp(int i);
  bool IsDown(int i) const;
  bool shutting_down() const;

 private:
  class EncodeCall;
  struct Replica {
    std::string address;
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<v1::Tokenizer::Stub> stub;
  };
  void CallEnded();

  const TokenizerPoolOptions options_;
  std::vector<Replica> replicas_;
  mutable absl::Mutex mu_;
  std::vector<absl::Time> down_until_ ABSL_GUARDED_BY(mu_);
  size_t next_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace corvid::scheduler

#endif  // CORVID_SERVICES_SCHEDULER_TOKENIZER_POOL_H_
