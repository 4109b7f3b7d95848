// Bounded priority queue of requests waiting for a worker. Pure policy: no threads, no gRPC;
// the scheduler core owns one and calls it from its own thread.
#ifndef CORVID_SERVICES_SCHEDULER_REQUEST_QUEUE_H_
#define CORVID_SERVICES_SCHEDULER_REQUEST_QUEUE_H_

#include <cstdint>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/time/time.h"

namespace corvid::scheduler {

// Queue classes, dispatched strictly highest first (values match corvid.v1.Priority).
enum class QueueClass { kLow = 1, kNormal = 2, kHigh = 3 };

// What the policy needs to know about a waiting request.
struct QueueEntry {
  uint64_t id = 0;
  QueueClass priority = QueueClass::kNormal;
  int prompt_tokens = 0;
  int max_tokens = 0;
  absl::Time arrival = absl::InfinitePast();
  absl::Time deadline = absl::InfiniteFuture();
};

struct QueueLimits {
  int max_requests = 1024;
  int64_t max_prompt_tokens = 1 << 20;  // sum of prompt tokens of queued requests
};

class RequestQueue {
 public:
  explicit RequestQueue(QueueLimits limits) : limits_(limits) {}

  // Appends `entry` behind every queued request of its class or higher. RESOURCE_EXHAUSTED
  // naming the limit when it would exceed one; ALREADY_EXISTS for a queued id.
  absl::Status Push(const QueueEntry& entry);
  // Puts back a request that was dispatched but could not run (refused by a worker, or its
  // worker died before it streamed anything): it goes ahead of its class, ignoring the limits,
  // because it was already admitted once.
  absl::Status PushFront(const QueueEntry& entry);

  bool empty() const { return order_.empty(); }
  int size() const { return static_cast<int>(order_.size()); }
  int64_t prompt_tokens() const { return prompt_tokens_; }
  const QueueLimits& limits() const { return limits_; }

  // The request to dispatch next; nullptr when empty.
  const QueueEntry* Front() const;
  QueueEntry PopFront();
  // Removes a queued request (cancelled); false when it is not queued.
  bool Remove(uint64_t id);
  bool Contains(uint64_t id) const { return keys_.contains(id); }
  // Removes and returns every request whose deadline is at or before `now`.
  std::vector<QueueEntry> PopExpired(absl::Time now);
  // Earliest deadline among queued requests; InfiniteFuture when none.
  absl::Time NextDeadline() const;
  // Requests a new request of class `priority` would wait behind.
  int CountAhead(QueueClass priority) const;

 private:
  // Ordered by class (highest first), then by arrival order within the class.
  using Key = std::pair<int, int64_t>;
  static Key MakeKey(QueueClass c, int64_t order) { return {-static_cast<int>(c), order}; }
  void Erase(std::map<Key, QueueEntry>::iterator it);

  QueueLimits limits_;
  std::map<Key, QueueEntry> order_;
  absl::flat_hash_map<uint64_t, Key> keys_;
  std::set<std::pair<absl::Time, uint64_t>> deadlines_;
  int64_t prompt_tokens_ = 0;
  int64_t next_back_ = 0;    // order numbers grow at the back...
  int64_t next_front_ = -1;  // ...and shrink at the front
  int count_by_class_[4] = {0, 0, 0, 0};
};

}  // namespace corvid::scheduler

#endif  // CORVID_SERVICES_SCHEDULER_REQUEST_QUEUE_H_
