// The scheduler's state and its one thread. Every request, queue, worker view and detokenizer
// stream is owned by the core thread; other threads (gRPC reactors and callbacks) only Post()
// tasks to it, so the policy code never locks. Nothing run on the core thread blocks: calls to
// workers and tokenizers are asynchronous and their answers come back as posted tasks.
//
// A request's path: Submit (tokenized) -> admission (queue limits, deadline estimate) -> queue
// -> dispatched in a batch to the least-loaded worker with credit -> per-step token updates ->
// detokenized in per-step batches on the request's DetokenizeStream -> stop strings -> client.
#ifndef CORVID_SERVICES_SCHEDULER_SCHEDULER_CORE_H_
#define CORVID_SERVICES_SCHEDULER_SCHEDULER_CORE_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/random/random.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/scheduler/admission.h"
#include "services/scheduler/detok_stream.h"
#include "services/scheduler/generate_call.h"
#include "services/scheduler/prefix_affinity.h"
#include "services/scheduler/queue_reservations.h"
#include "services/scheduler/request_queue.h"
#include "services/scheduler/request_validation.h"
#include "services/scheduler/scheduler_metrics.h"
#include "services/scheduler/stop_matcher.h"
#include "services/scheduler/tokenizer_pool.h"
#include "services/scheduler/worker_link.h"
#include "services/scheduler/worker_load.h"

namespace corvid::scheduler {

struct SchedulerOptions {
  QueueLimits queue;
  int max_admissions_per_message = 0;  // 0 = no limit
  absl::Duration reconnect_min = absl::Milliseconds(50);
  absl::Duration reconnect_max = absl::Seconds(2);
  int detok_max_in_flight = 4;       // DetokenizeStream messages awaiting answers, per stream
  int detok_prefix_tokens = 4;       // prompt tail sent as context for the first delta
  absl::Duration detok_park_timeout = absl::Seconds(5);  // no tokenizer stream: fail after
  absl::Duration max_tick = absl::Milliseconds(50);
  // The model this scheduler serves; workers serving another are ignored. Empty = the model of
  // the first worker that connects.
  std::string model_name;
  // Prompt-prefix affinity routing (used with workers that report prefix caching).
  AffinityOptions affinity;
};

// A validated, tokenized request handed to the core.
struct NewRequest {
  uint64_t id = 0;
  std::shared_ptr<CallHandle> call;
  ResolvedRequest request;
  std::vector<int32_t> prompt;
  absl::Time arrival;
  absl::Time deadline = absl::InfiniteFuture();
  // The edge decided its admission (AdmitAtEdge) and reserved its queue place; the core
  // releases it when the request leaves the queue. False: the core decides (as for a request
  // submitted by anything but the Generate handler).
  bool reserved = false;
};

// What other threads may read without posting (kept current by the core thread).
struct SchedulerSnapshot {
  bool have_model = false;
  ModelLimits limits;
  int live_workers = 0;
  int queued = 0;
  int running = 0;
  int max_queued = 0;
  absl::Duration full_queue_retry_hint = absl::Milliseconds(50);
  // The admission estimate's inputs, for deciding at the edge (never null once published).
  std::shared_ptr<const ClusterView> cluster = std::make_shared<ClusterView>();
};

class SchedulerCore {
 public:
  SchedulerCore(const SchedulerOptions& options, std::vector<std::string> worker_addresses,
                TokenizerPool* tokenizers, SchedulerMetrics* metrics);
  ~SchedulerCore();  // Stop()s

  void Start();
  // Ends every stream (UNAVAILABLE), closes the links, joins the thread.
  void Stop();

  // Runs `task` on the core thread.
  void Post(std::function<void()> task);
  void Submit(NewRequest request);
  // Adds a worker address (from discovery); known addresses are ignored. Thread-safe.
  void AddWorker(const std::string& address);
  SchedulerSnapshot Snapshot() const;
  // Called on the core thread whenever the number of live workers changes.
  void SetLiveWorkersListener(std::function<void(int)> listener);

  // Queue places reserved at the edge (see edge_admission.h). Thread-safe.
  QueueReservations* reservations() { return &reservations_; }

  // Requests the core still owns (queued, running, or being delivered).
  int64_t live_requests() const;

 private:
  struct Request;
  struct Worker;
  struct DetokSlot;
  struct DetokPart;

  // scheduler_core.cc: the loop, admission, dispatch, workers, cancellation.
  void Loop();
  absl::Time OnTick(absl::Time now);
  void Admit(NewRequest nr);
  void Refuse(Request& r, absl::Status status, absl::Duration retry_after,
              const std::string& reason);
  // Gives back the queue place `r` reserved at the edge, if it holds one (idempotent).
  void ReleaseReservation(Request& r);
  ClusterView View() const;
  int FreeSlots() const;  // summed over live workers
  void TryDispatch();
  void ConnectWorkers(absl::Time now);
  void AddWorkerNow(const std::string& address);
  void OnWorkerUp(int w, uint64_t epoch, const v1::WorkerInfo& info);
  void OnWorkerDown(int w, uint64_t epoch, const absl::Status& status);
  void OnClientGone(uint64_t id);
  void CancelOnWorker(Request& r);
  void Publish();

  // scheduler_output.cc: worker messages to client responses.
  void OnWorkerMessage(int w, uint64_t epoch, v1::SessionResponse message);
  void OnRefusal(Request& r, const v1::AdmissionRefusal& refusal);
  void OnUpdate(Request& r, v1::SequenceUpdate& update);
  void Deliver(Request& r, int count, const std::string& text, bool finish);
  void FinishOk(Request& r);
  void FinishError(Request& r, absl::Status status);
  // Requeues a request whose worker could not run it and that has streamed nothing.
  bool Requeue(Request& r);
  void MaybeErase(uint64_t id);

  // scheduler_detok.cc: DetokenizeStream slots, batching and replay.
  void ConnectDetok(absl::Time now);
  void OnDetokResponse(int slot, uint64_t epoch, v1::DetokenizeResponse response);
  void OnDetokDown(int slot, uint64_t epoch, const absl::Status& status);
  // Queues `count` new tokens (and maybe the end) of `r` for detokenization.
  void QueueDetok(Request& r, int count, bool finish);
  // Tells the detokenizer to forget `r` (it ended early).
  void CloseDetok(Request& r);
  void FlushDetok(int slot);
  int PickDetokSlot();
  void ParkOrReplay(Request& r);
  void ExpireParked(absl::Time now);

  const SchedulerOptions options_;
  TokenizerPool* tokenizers_;
  SchedulerMetrics* metrics_;

  mutable absl::Mutex mu_;  // guards the task queue and the snapshot only
  std::deque<std::function<void()>> tasks_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  SchedulerSnapshot snapshot_ ABSL_GUARDED_BY(mu_);
  int64_t live_requests_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;

  // Core-thread state.
  RequestQueue queue_;
  QueueReservations reservations_;  // shared with the edge; internally locked
  absl::flat_hash_map<uint64_t, std::unique_ptr<Request>> requests_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::unique_ptr<DetokSlot>> detok_;
  std::set<uint64_t> parked_;  // requests waiting for a detokenizer stream
  bool have_model_ = false;
  ModelLimits limits_;
  DurationAverage service_time_;
  DurationAverage first_token_time_;
  absl::BitGen rng_;
  PrefixAffinity affinity_;
  std::function<void(int)> live_listener_;
  int running_ = 0;
};

}  // namespace corvid::scheduler

#endif  // CORVID_SERVICES_SCHEDULER_SCHEDULER_CORE_H_
