// The core's private records, shared by scheduler_core*.cc. Core thread only.
#ifndef CORVID_SERVICES_SCHEDULER_SCHEDULER_CORE_INTERNAL_H_
#define CORVID_SERVICES_SCHEDULER_SCHEDULER_CORE_INTERNAL_H_

#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "services/scheduler/scheduler_core.h"

namespace corvid::scheduler {

struct SchedulerCore::Request {
  enum class Phase { kQueued, kRunning };

  uint64_t id = 0;
  std::shared_ptr<CallHandle> call;
  ResolvedRequest req;
  std::vector<int32_t> prompt;
  absl::Time arrival;
  absl::Time deadline = absl::InfiniteFuture();
  absl::Time admitted = absl::InfinitePast();
  absl::Time first_token = absl::InfinitePast();
  absl::Time last_emit = absl::InfinitePast();
  Phase phase = Phase::kQueued;
  bool reserved = false;  // holds a queue place reserved at the edge (until dispatched or ended)

  // The worker running it (valid while worker_live).
  int worker = -1;
  uint64_t worker_epoch = 0;
  bool worker_live = false;  // admitted to a worker whose end of it has not been seen
  std::vector<int32_t> generated;         // every id the worker sent
  std::deque<v1::TokenLogprob> logprobs;  // of ids not yet delivered, when asked for
  int delivered = 0;                      // ids sent to the client
  bool worker_finished = false;           // the worker ended it with LENGTH or STOP
  v1::SequenceFinish worker_finish = v1::SEQUENCE_FINISH_NONE;
  std::unique_ptr<StopMatcher> stop;
  bool client_done = false;  // the call was finished (or cancelled): nothing more is sent

  // Detokenization: which stream carries it, and how much text was accepted so far.
  int detok_slot = -1;
  bool detok_open = false;   // started on detok_slot and not finished there
  int64_t text_bytes = 0;    // bytes of text accepted (the stream's output, after skipping)
  int64_t skip_bytes = 0;    // replayed text still to drop
  absl::Time parked_at = absl::InfinitePast();

  QueueEntry Entry() const {
    QueueEntry e;
    e.id = id;
    e.priority = req.priority;
    e.prompt_tokens = static_cast<int>(prompt.size());
    e.max_tokens = req.max_tokens;
    e.arrival = arrival;
    e.deadline = deadline;
    return e;
  }
};

struct SchedulerCore::Worker {
  std::unique_ptr<WorkerLink> link;
  bool up = false;
  bool connecting = false;
  uint64_t epoch = 0;
  std::unique_ptr<WorkerLoad> load;
  v1::WorkerInfo info;
  absl::Time retry_at = absl::InfinitePast();
  absl::Duration backoff;
  std::set<uint64_t> requests;  // running here
};

// One sequence's share of a DetokenizeStream message.
struct SchedulerCore::DetokPart {
  uint64_t id = 0;
  std::vector<int32_t> ids;
  bool start = false;    // first part of the sequence on this stream (carries prefix_ids)
  std::vector<int32_t> prefix;
  int deliver = 0;       // generated ids this part hands to the client when answered
  bool finish = false;   // the worker finished the request: flush and deliver the end
  bool close = false;    // the request ended early: just make the stream forget it
};

struct SchedulerCore::DetokSlot {
  int replica = 0;
  std::shared_ptr<DetokStream> stream;
  uint64_t epoch = 0;
  bool up = false;
  bool answered = false;  // this stream has answered at least once
  absl::Time retry_at = absl::InfinitePast();
  absl::Duration backoff;
  uint64_t next_batch = 1;
  std::deque<std::pair<uint64_t, std::vector<DetokPart>>> in_flight;  // batch id, parts
  std::vector<DetokPart> pending;  // not sent yet, one per sequence
  std::map<uint64_t, size_t> pending_index;
  std::set<uint64_t> sequences;  // requests pinned to this stream
};

}  // namespace corvid::scheduler

#endif  // CORVID_SERVICES_SCHEDULER_SCHEDULER_CORE_INTERNAL_H_
