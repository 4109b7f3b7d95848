// Admission at the edge: decides, in microseconds and before any work is done, whether a new
// request may wait in the queue. It refuses when the queue is full or when the request is
// estimated not to start before its deadline, and says when a retry is worth it. Pure policy.
#ifndef CORVID_SERVICES_SCHEDULER_ADMISSION_H_
#define CORVID_SERVICES_SCHEDULER_ADMISSION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "services/scheduler/request_queue.h"

namespace corvid::scheduler {

// Exponential moving average of a duration; reports `fallback` until the first sample.
class DurationAverage {
 public:
  explicit DurationAverage(double alpha = 0.1) : alpha_(alpha) {}
  void Add(absl::Duration d);
  absl::Duration Get(absl::Duration fallback = absl::ZeroDuration()) const;
  bool empty() const { return !has_value_; }

 private:
  double alpha_;
  double value_s_ = 0;
  bool has_value_ = false;
};

// What the admission estimate needs to know about the workers, summed over the live ones.
struct ClusterView {
  int live_workers = 0;
  int total_slots = 0;      // sum of max_sequences
  int free_slots = 0;       // sum of slot credit now
  int64_t max_worker_tokens = 0;  // largest KV cache of a live worker, in tokens
  absl::Duration mean_service = absl::ZeroDuration();      // admission -> finish
  absl::Duration mean_first_token = absl::ZeroDuration();  // admission -> first token
  // For each running request, how long until it frees its slot at the latest: its tokens still
  // to generate times its worker's step time (any order).
  std::vector<absl::Duration> running_remaining;
};

// Why a request was refused; `metric_reason` labels the rejections counter.
struct Refusal {
  absl::Status status;
  absl::Duration retry_after = absl::ZeroDuration();  // zero = no hint
  std::string metric_reason;
};

// Estimated time until a request with `ahead` requests queued before it gets a worker slot.
// Slots free now serve the first requests at once; the next ones take the slots of running
// requests in the order those finish (running_remaining, sorted); beyond that, one slot frees
// every mean_service / total_slots.
absl::Duration EstimateStartDelay(int ahead, const ClusterView& view);

// Checks that need no queue: UNAVAILABLE with no live worker, INVALID_ARGUMENT (naming
// max_tokens) when the request needs more KV blocks than the largest worker has.
absl::Status CheckServable(const QueueEntry& entry, const ClusterView& view);

// Refusal of a request that the queue would take (Push succeeded) but whose estimated start
// (now + start delay + time to first token) is after its deadline; OK otherwise.
Refusal CheckDeadline(const QueueEntry& entry, int ahead, absl::Time now,
                      const ClusterView& view);

// The retry hint for a request refused because the queue is full: the estimated time for the
// queue to move by one request, bounded to [min, max].
absl::Duration RetryHintForFullQueue(const RequestQueue& queue, const ClusterView& view);

}  // namespace corvid::scheduler

#endif  // CORVID_SERVICES_SCHEDULER_ADMISSION_H_
