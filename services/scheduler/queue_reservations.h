// Places in the request queue, reserved by the gRPC thread that takes a call before the request
// is handed to the core thread. Why: the core thread also dispatches, applies worker steps and
// batches detokenization, so a refusal decided there waits behind that work (the rejection
// latency tail under overload). With a reservation the edge knows, exactly and at once, whether
// the queue has room: every request the core will queue holds one, so the queue's limits are
// never exceeded, and a request that gets no place is refused on the thread that took it.
// A request reaching the core while a worker slot is free goes straight to that worker, so the
// places are the queue's limit plus the free slots the core last reported (SetFreeSlots, done
// before it releases the places of the requests it dispatched, so the sum is never overstated
// by more than what a stale report holds; the queue's own check stays the last word).
// Thread-safe; a short mutex, held for a few arithmetic operations.
#ifndef CORVID_SERVICES_SCHEDULER_QUEUE_RESERVATIONS_H_
#define CORVID_SERVICES_SCHEDULER_QUEUE_RESERVATIONS_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "services/scheduler/request_queue.h"

namespace corvid::scheduler {

class QueueReservations {
 public:
  explicit QueueReservations(QueueLimits limits) : limits_(limits) {}

  // Reserves a place for one request of class `priority` with `prompt_tokens` prompt tokens.
  // Returns how many reserved requests (of its class or higher) it would wait behind, or
  // RESOURCE_EXHAUSTED naming the limit (in requests or prompt tokens) it would exceed.
  absl::StatusOr<int> Reserve(QueueClass priority, int prompt_tokens);
  // Gives back a place taken by Reserve (the request left the queue, or was refused).
  void Release(QueueClass priority, int prompt_tokens);
  // The workers' free slots (the core's credit) as of now; negative counts as zero.
  void SetFreeSlots(int free_slots);

  // True when Reserve would refuse any request (no place left).
  bool full() const;
  int requests() const;
  int64_t prompt_tokens() const;
  const QueueLimits& limits() const { return limits_; }

 private:
  const QueueLimits limits_;
  mutable absl::Mutex mu_;
  int requests_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t prompt_tokens_ ABSL_GUARDED_BY(mu_) = 0;
  int free_slots_ ABSL_GUARDED_BY(mu_) = 0;
  int by_class_[4] ABSL_GUARDED_BY(mu_) = {0, 0, 0, 0};
};

}  // namespace corvid::scheduler

#endif  // CORVID_SERVICES_SCHEDULER_QUEUE_RESERVATIONS_H_
