// Target: the engine in this process (engine/engine.h), built exactly as corvid-worker builds
// it (same backend factory, same engine options), driven by one engine thread. The baseline the
// services are measured against: same load, same figures, no network and no tokenizer tier.
#ifndef CORVID_SERVICES_LOADGEN_INPROCESS_TARGET_H_
#define CORVID_SERVICES_LOADGEN_INPROCESS_TARGET_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "absl/status/statusor.h"
#include "engine/engine.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/weights.h"
#include "services/loadgen/target.h"
#include "services/worker/worker_flags.h"

namespace corvid::loadgen {

struct InProcessOptions {
  // The worker's engine settings (model, backend, threads, batch and KV sizes): the in-process
  // engine is built from these as corvid-worker would build it.
  worker::WorkerConfig worker;
  RequestOptions request;
};

class InProcessTarget : public Target {
 public:
  // Loads the model (and its tokenizer, when it has one: text prompts need it).
  static absl::StatusOr<std::unique_ptr<InProcessTarget>> Create(InProcessOptions options);
  // Stops the engine thread; requests still live are dropped without completing.
  // The engine holds at most options.worker.max_sequences requests (running + its own waiting
  // queue); more wait in this target, in arrival order.
  ~InProcessTarget() override;

  TargetInfo Info() const override { return info_; }
  // Encodes a text prompt on the calling thread, then hands the request to the engine thread.
  void Start(const RequestSpec& spec, RequestRecord* record, std::function<void()> done) override;

 private:
  struct Pending {
    GenerationRequest request;
    RequestRecord* record = nullptr;
    std::function<void()> done;
  };
  struct Live {
    RequestRecord* record = nullptr;
    std::function<void()> done;
    GenerationRequest request;  // moved into the engine when admitted
    int64_t deadline_ns = 0;    // 0 = none
    bool in_engine = false;
    bool expired = false;  // cancelled for its deadline
  };

  InProcessTarget() = default;
  void Loop();
  // Engine thread: queues the new requests, expires those past their deadline, admits from the
  // backlog up to the cap, steps once.
  void RunOnce(std::deque<Pending>& incoming);
  void AddIncoming(std::deque<Pending>& incoming);
  void ExpireDeadlines(int64_t now_ns);
  void AdmitBacklog();
  void FinishAll(absl::StatusCode code, const std::string& error, int64_t now_ns);
  void Finish(int64_t id, absl::StatusCode code, const std::string& error, int64_t now_ns);

  InProcessOptions options_;
  TargetInfo info_;
  std::unique_ptr<WeightStore> weights_;
  std::unique_ptr<Tokenizer> tokenizer_;  // null when the model has none
  std::unique_ptr<Engine> engine_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> inbox_;
  bool stop_ = false;

  // Engine thread only.
  std::unordered_map<int64_t, Live> live_;
  // Requests waiting for a place in the engine, oldest first: the engine holds at most
  // worker.max_sequences at once, as a worker does (the rest wait in its scheduler).
  std::deque<int64_t> backlog_;
  int in_engine_ = 0;
  int64_t next_id_ = 1;
  bool engine_failed_ = false;
  std::thread thread_;
};

}  // namespace corvid::loadgen

#endif  // CORVID_SERVICES_LOADGEN_INPROCESS_TARGET_H_
