#include "services/scheduler/request_queue.h"

#include "absl/strings/str_cat.h"

namespace corvid::scheduler {

absl::Status RequestQueue::Push(const QueueEntry& entry) {
  if (keys_.contains(entry.id)) {
    return absl::AlreadyExistsError(absl::StrCat("request ", entry.id, " is already queued"));
  }
  if (size() + 1 > limits_.max_requests) {
    return absl::ResourceExhaustedError(
        absl::StrCat("queue full: ", size(), " requests queued (limit ", limits_.max_requests,
                     ")"));
  }
  if (prompt_tokens_ + entry.prompt_tokens > limits_.max_prompt_tokens) {
    return absl::ResourceExhaustedError(
        absl::StrCat("queue full: ", prompt_tokens_, " prompt tokens queued, ",
                     entry.prompt_tokens, " more would exceed the limit of ",
                     limits_.max_prompt_tokens));
  }
  Key key = MakeKey(entry.priority, next_back_++);
  order_.emplace(key, entry);
  keys_[entry.id] = key;
  deadlines_.emplace(entry.deadline, entry.id);
  prompt_tokens_ += entry.prompt_tokens;
  ++count_by_class_[static_cast<int>(entry.priority)];
  return absl::OkStatus();
}

absl::Status RequestQueue::PushFront(const QueueEntry& entry) {
  if (keys_.contains(entry.id)) {
    return absl::AlreadyExistsError(absl::StrCat("request ", entry.id, " is already queued"));
  }
  Key key = MakeKey(entry.priority, next_front_--);
  order_.emplace(key, entry);
  keys_[entry.id] = key;
  deadlines_.emplace(entry.deadline, entry.id);
  prompt_tokens_ += entry.prompt_tokens;
  ++count_by_class_[static_cast<int>(entry.priority)];
  return absl::OkStatus();
}

const QueueEntry* RequestQueue::Front() const {
  return order_.empty() ? nullptr : &order_.begin()->second;
}

QueueEntry RequestQueue::PopFront() {
  QueueEntry entry = order_.begin()->second;
  Erase(order_.begin());
  return entry;
}

bool RequestQueue::Remove(uint64_t id) {
  auto k = keys_.find(id);
  if (k == keys_.end()) return false;
  Erase(order_.find(k->second));
  return true;
}

void RequestQueue::Erase(std::map<Key, QueueEntry>::iterator it) {
  const QueueEntry& e = it->second;
  deadlines_.erase({e.deadline, e.id});
  keys_.erase(e.id);
  prompt_tokens_ -= e.prompt_tokens;
  --count_by_class_[static_cast<int>(e.priority)];
  order_.erase(it);
}

std::vector<QueueEntry> RequestQueue::PopExpired(absl::Time now) {
  std::vector<QueueEntry> expired;
  while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
    uint64_t id = deadlines_.begin()->second;
    auto it = order_.find(keys_.at(id));
    expired.push_back(it->second);
    Erase(it);
  }
  return expired;
}

absl::Time RequestQueue::NextDeadline() const {
  return deadlines_.empty() ? absl::InfiniteFuture() : deadlines_.begin()->first;
}

int RequestQueue::CountAhead(QueueClass priority) const {
  int ahead = 0;
  for (int c = static_cast<int>(priority); c <= static_cast<int>(QueueClass::kHigh); ++c) {
    ahead += count_by_class_[c];
  }
  return ahead;
}

}  // namespace corvid::scheduler
