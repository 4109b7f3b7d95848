#include "services/scheduler/queue_reservations.h"

#include "absl/strings/str_cat.h"

namespace corvid::scheduler {

absl::StatusOr<int> QueueReservations::Reserve(QueueClass priority, int prompt_tokens) {
  absl::MutexLock lock(&mu_);
  if (requests_ + 1 > limits_.max_requests + free_slots_) {
    return absl::ResourceExhaustedError(
        absl::StrCat("queue full: ", requests_ - free_slots_, " requests queued (limit ",
                     limits_.max_requests, ")"));
  }
  if (prompt_tokens_ + prompt_tokens > limits_.max_prompt_tokens) {
    return absl::ResourceExhaustedError(
        absl::StrCat("queue full: ", prompt_tokens_, " prompt tokens queued, ", prompt_tokens,
                     " more would exceed the limit of ", limits_.max_prompt_tokens));
  }
  int ahead = 0;
  for (int c = static_cast<int>(priority); c <= static_cast<int>(QueueClass::kHigh); ++c) {
    ahead += by_class_[c];
  }
  ++requests_;
  prompt_tokens_ += prompt_tokens;
  ++by_class_[static_cast<int>(priority)];
  return ahead;
}

void QueueReservations::Release(QueueClass priority, int prompt_tokens) {
  absl::MutexLock lock(&mu_);
  --requests_;
  prompt_tokens_ -= prompt_tokens;
  --by_class_[static_cast<int>(priority)];
}

void QueueReservations::SetFreeSlots(int free_slots) {
  absl::MutexLock lock(&mu_);
  free_slots_ = free_slots > 0 ? free_slots : 0;
}

bool QueueReservations::full() const {
  absl::MutexLock lock(&mu_);
  return requests_ >= limits_.max_requests + free_slots_;
}

int QueueReservations::requests() const {
  absl::MutexLock lock(&mu_);
  return requests_;
}

int64_t QueueReservations::prompt_tokens() const {
  absl::MutexLock lock(&mu_);
  return prompt_tokens_;
}

}  // namespace corvid::scheduler
