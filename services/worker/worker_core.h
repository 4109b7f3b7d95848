// The worker's engine side: one Engine driven by one engine thread, and the sessions (scheduler
// streams) that feed it. Everything a Session reactor calls here takes one mutex briefly and
// never waits for the engine, so reactors never block:
//
//   reactor --Apply()--> [reservation check, inbox] --engine thread--> Engine::Add/Cancel/Step
//   reactor <--TakeOutput()-- [per-session pending updates, coalesced] <--engine thread--
//
// Bounds: an admission is accepted only while it fits the KV blocks and sequence slots left
// (reserved for the request's whole context, see worker.proto), so the inbox never holds more
// than max_sequences admissions plus one cancellation per live request, and a session's pending
// output never more than its live requests' tokens: when the scheduler reads slower than the
// engine steps, the updates of several steps merge into one message instead of queueing.
//
// Lock order: a session's own mutex (in the reactor) before mu_; the engine thread never holds
// mu_ while it calls back into a session.
#ifndef CORVID_SERVICES_WORKER_WORKER_CORE_H_
#define CORVID_SERVICES_WORKER_WORKER_CORE_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "corvid/v1/worker.pb.h"
#include "engine/engine.h"
#include "services/worker/sink_notifier.h"
#include "services/worker/worker_stats.h"

namespace corvid::worker {

struct WorkerCoreOptions {
  std::string model_name;
  std::string backend_name;
  int max_sequences = 64;  // live requests (running + waiting in the engine)
  int max_running = 64;    // EngineOptions.max_num_seqs, reported in Info
  int max_batched_tokens = 512;
  int context_length = 0;  // max prompt + output tokens (the engine's max_model_len)
  // Each step takes at least this long (the engine thread waits out the rest): emulates a
  // slower accelerator, so load tests and demos on a tiny model see realistic step times.
  double min_step_ms = 0;
  bool prefix_caching = false;  // the engine's EngineOptions.enable_prefix_caching (Info)
  // Called on the engine thread after every step (metrics); must be cheap and thread-safe.
  std::function<void(double step_ms, const StepStats& step)> on_step;
};

// Where a session's output goes: Notify() is called (on the core's notifier thread, or on the
// thread that drains, never holding the core's mutex) when the session has output to take.
// Implementations must not block.
class SessionSink {
 public:
  virtual ~SessionSink() = default;
  virtual void Notify() = 0;
};

class WorkerCore {
 public:
  // Starts the engine thread.
  WorkerCore(std::unique_ptr<Engine> engine, const WorkerCoreOptions& options);
  // Stops the engine thread; live requests are dropped.
  ~WorkerCore();
  WorkerCore(const WorkerCore&) = delete;
  WorkerCore& operator=(const WorkerCore&) = delete;

  v1::WorkerInfo Info() const;

  // A new scheduler stream; its first output is a capacity-only message.
  int OpenSession(std::shared_ptr<SessionSink> sink);
  // Cancels every live request of the session (KV freed within one step) and forgets it.
  void CloseSession(int session);
  // Applies one scheduler message: reserves and queues each admission that fits, refuses the
  // others (the refusals go out with the next output), queues the cancellations.
  void Apply(int session, const v1::SessionRequest& request);
  // Moves the session's pending output (updates, refusals, latest capacity) into `out`. False
  // when there is nothing new since the last call.
  bool TakeOutput(int session, v1::SessionResponse* out);

  // Refuse new admissions from now on; live requests run to completion.
  void StartDraining();
  // True when no request is live (draining done).
  bool Idle() const;
  // False once the engine failed a step (the worker then refuses everything).
  bool EngineAlive() const { return engine_alive_.load(); }
  WorkerStats Stats() const;

 private:
  struct Command {
    bool cancel = false;
    int64_t engine_id = 0;
    GenerationRequest request;  // when !cancel
  };
  struct LiveRequest {
    int session = 0;
    uint64_t request_id = 0;
    int blocks = 0;  // reserved
    bool logprobs = false;
  };
  struct Session {
    std::shared_ptr<SessionSink> sink;
    absl::flat_hash_map<uint64_t, int64_t> engine_ids;  // request id -> engine id
    std::map<uint64_t, v1::SequenceUpdate> pending;     // coalesced per request
    std::vector<v1::AdmissionRefusal> refusals;
    uint64_t applied_seq = 0;
    bool dirty = true;  // something new to send (capacity counts)
  };

  void EngineLoop();
  // One pass: applies the inbox, steps once if there is work. False to stop.
  bool RunOnce();
  // Engine thread, without mu_: Add/Cancel; returns the admissions the engine rejected.
  std::vector<std::pair<int64_t, absl::Status>> ApplyCommands(std::deque<Command>& commands);
  void RefuseFailedAdds(const std::vector<std::pair<int64_t, absl::Status>>& failed)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RecordStep(double step_ms, const StepStats& step) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Admit(Session& session, int id, const v1::Admission& a)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Refuse(Session& session, uint64_t id, v1::RefusalReason reason, std::string message)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Records the step's events into the sessions' pending output.
  void Deliver(const std::vector<TokenEvent>& events) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ends a request (finished, cancelled or failed): releases its reservation.
  void Release(int64_t engine_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FailAll(const std::string& error) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FillCapacity(const Session& session, v1::Capacity* c) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  std::vector<std::shared_ptr<SessionSink>> DirtySinks() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const WorkerCoreOptions options_;
  std::unique_ptr<Engine> engine_;  // touched by the engine thread only (after construction)
  const ModelConfig model_config_;
  const EngineCapacity initial_capacity_;

  mutable absl::Mutex mu_;
  std::deque<Command> inbox_ ABSL_GUARDED_BY(mu_);
  std::map<int, Session> sessions_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<int64_t, LiveRequest> live_ ABSL_GUARDED_BY(mu_);
  int next_session_ ABSL_GUARDED_BY(mu_) = 1;
  int64_t next_engine_id_ ABSL_GUARDED_BY(mu_) = 1;
  int reserved_blocks_ ABSL_GUARDED_BY(mu_) = 0;
  EngineCapacity capacity_ ABSL_GUARDED_BY(mu_);  // engine's, after the last step
  WorkerStats stats_ ABSL_GUARDED_BY(mu_);
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<bool> engine_alive_{true};
  SinkNotifier notifier_;  // before thread_: the engine thread posts to it until joined
  std::thread thread_;
};

}  // namespace corvid::worker

#endif  // CORVID_SERVICES_WORKER_WORKER_CORE_H_
