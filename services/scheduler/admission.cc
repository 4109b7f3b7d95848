#include "services/scheduler/admission.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace corvid::scheduler {
namespace {
constexpr absl::Duration kMinRetryHint = absl::Milliseconds(5);
constexpr absl::Duration kMaxRetryHint = absl::Seconds(30);

absl::Duration Clamp(absl::Duration d) {
  return std::min(std::max(d, kMinRetryHint), kMaxRetryHint);
}
}  // namespace

void DurationAverage::Add(absl::Duration d) {
  double s = absl::ToDoubleSeconds(d);
  value_s_ = has_value_ ? value_s_ + alpha_ * (s - value_s_) : s;
  has_value_ = true;
}

absl::Duration DurationAverage::Get(absl::Duration fallback) const {
  return has_value_ ? absl::Seconds(value_s_) : fallback;
}

absl::Duration EstimateStartDelay(int ahead, const ClusterView& view) {
  if (ahead < view.free_slots) return absl::ZeroDuration();
  if (view.total_slots <= 0) return absl::InfiniteDuration();
  const size_t k = static_cast<size_t>(ahead - std::max(view.free_slots, 0));
  std::vector<absl::Duration> remaining = view.running_remaining;
  if (k < remaining.size()) {
    std::nth_element(remaining.begin(), remaining.begin() + k, remaining.end());
    return remaining[k];
  }
  // Past the running requests: they all finished; then whole service times, shared by slots.
  absl::Duration base = remaining.empty()
                            ? absl::ZeroDuration()
                            : *std::max_element(remaining.begin(), remaining.end());
  const int64_t waits = static_cast<int64_t>(k - remaining.size()) + 1;
  return base + view.mean_service * waits / view.total_slots;
}

absl::Status CheckServable(const QueueEntry& entry, const ClusterView& view) {
  if (view.live_workers == 0) {
    return absl::UnavailableError("no live worker");
  }
  int64_t tokens = static_cast<int64_t>(entry.prompt_tokens) + entry.max_tokens;
  if (tokens > view.max_worker_tokens) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_tokens: prompt (", entry.prompt_tokens, " tokens) + max_tokens (",
        entry.max_tokens, ") exceeds the KV cache of the largest worker (",
        view.max_worker_tokens, " tokens)"));
  }
  return absl::OkStatus();
}

Refusal CheckDeadline(const QueueEntry& entry, int ahead, absl::Time now,
                      const ClusterView& view) {
  Refusal r;
  if (entry.deadline == absl::InfiniteFuture()) return r;
  absl::Duration delay = EstimateStartDelay(ahead, view);
  absl::Time first_token = now + delay + view.mean_first_token;
  if (first_token <= entry.deadline) return r;
  r.status = absl::ResourceExhaustedError(absl::StrCat(
      "would miss its deadline: estimated first token in ",
      absl::FormatDuration(first_token - now), " (", ahead, " requests ahead), deadline in ",
      absl::FormatDuration(entry.deadline - now)));
  r.retry_after = Clamp(delay);
  r.metric_reason = "deadline";
  return r;
}

absl::Duration RetryHintForFullQueue(const RequestQueue& queue, const ClusterView& view) {
  if (view.total_slots <= 0 || view.mean_service == absl::ZeroDuration()) {
    return kMinRetryHint * 10;
  }
  return Clamp(view.mean_service / view.total_slots);
}

}  // namespace corvid::scheduler
