#include "services/scheduler/edge_admission.h"

namespace corvid::scheduler {
namespace {

Refusal Refused(absl::Status status, const char* reason,
                absl::Duration retry_after = absl::ZeroDuration()) {
  Refusal r;
  r.status = std::move(status);
  r.retry_after = retry_after;
  r.metric_reason = reason;
  return r;
}

}  // namespace

Refusal AdmitAtEdge(const QueueEntry& entry, const std::vector<int32_t>& prompt,
                    const ResolvedRequest& request, const EdgeView& view, absl::Time now,
                    QueueReservations* reservations) {
  if (absl::Status s = CheckPrompt(prompt, request, *view.limits); !s.ok()) {
    return Refused(std::move(s), "invalid");
  }
  if (absl::Status s = CheckServable(entry, *view.cluster); !s.ok()) {
    const bool down = s.code() == absl::StatusCode::kUnavailable;
    return Refused(std::move(s), down ? "no_worker" : "invalid");
  }
  absl::StatusOr<int> ahead = reservations->Reserve(entry.priority, entry.prompt_tokens);
  if (!ahead.ok()) return Refused(ahead.status(), "queue_full", view.full_queue_retry_hint);
  Refusal late = CheckDeadline(entry, *ahead, now, *view.cluster);
  if (!late.status.ok()) reservations->Release(entry.priority, entry.prompt_tokens);
  return late;
}

}  // namespace corvid::scheduler
