#include "services/scheduler/stop_matcher.h"

#include <algorithm>

namespace corvid::scheduler {

StopMatcher::StopMatcher(std::vector<std::string> stops) : stops_(std::move(stops)) {}

StopMatcher::Result StopMatcher::Append(const std::string& delta) {
  Result r;
  if (stopped_) return r;
  if (stops_.empty()) {
    r.text = delta;
    return r;
  }
  held_ += delta;
  // The earliest occurrence of any stop string wins; on a tie, the longest.
  size_t best = std::string::npos;
  const std::string* best_stop = nullptr;
  for (const std::string& s : stops_) {
    size_t pos = held_.find(s);
    if (pos == std::string::npos) continue;
    if (pos < best || (pos == best && s.size() > best_stop->size())) {
      best = pos;
      best_stop = &s;
    }
  }
  if (best_stop != nullptr) {
    r.text = held_.substr(0, best);
    r.stopped = true;
    r.stop = *best_stop;
    stopped_ = true;
    held_.clear();
    return r;
  }
  size_t keep = HoldBack();
  r.text = held_.substr(0, held_.size() - keep);
  held_.erase(0, held_.size() - keep);
  return r;
}

std::string StopMatcher::Flush() {
  std::string out;
  if (!stopped_) out.swap(held_);
  return out;
}

size_t StopMatcher::HoldBack() const {
  size_t best = 0;
  for (const std::string& s : stops_) {
    size_t max_len = std::min(held_.size(), s.size() - 1);
    for (size_t len = max_len; len > best; --len) {
      if (held_.compare(held_.size() - len, len, s, 0, len) == 0) {
        best = len;
        break;
      }
    }
  }
  return best;
}

}  // namespace corvid::scheduler
