// One DetokenizeStream to one tokenizer replica: requests go out in order (one write in
// flight, the rest queued; the owner bounds how many it sends before answers come back), every
// answer goes to `on_response`, and the end of the stream to `on_down` exactly once. The handle
// stays safe to use after the stream ended (calls then do nothing).
#ifndef CORVID_SERVICES_SCHEDULER_DETOK_STREAM_H_
#define CORVID_SERVICES_SCHEDULER_DETOK_STREAM_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "corvid/v1/tokenizer.grpc.pb.h"

namespace corvid::scheduler {

struct DetokStreamCallbacks {
  std::function<void(v1::DetokenizeResponse)> on_response;
  std::function<void(absl::Status)> on_down;
};

class DetokStream : public std::enable_shared_from_this<DetokStream> {
 public:
  static std::shared_ptr<DetokStream> Open(v1::Tokenizer::Stub* stub,
                                           DetokStreamCallbacks callbacks);
  void Send(v1::DetokenizeRequest request);
  void Cancel();

 private:
  class Reactor;
  DetokStream() = default;

  absl::Mutex mu_;
  Reactor* reactor_ ABSL_GUARDED_BY(mu_) = nullptr;
};

}  // namespace corvid::scheduler

#endif  // CORVID_SERVICES_SCHEDULER_DETOK_STREAM_H_
