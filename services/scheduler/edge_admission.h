// The admission decision taken on the gRPC thread that holds a validated, tokenized request,
// from the core's last published cluster view and a queue place reserved at once. Why here and
// not on the core thread: a refusal decided by the core waits behind its step work (dispatch,
// worker messages, detokenization of every running stream), which made the refusals' latency
// tail grow with the traffic. Pure policy plus the thread-safe QueueReservations.
#ifndef CORVID_SERVICES_SCHEDULER_EDGE_ADMISSION_H_
#define CORVID_SERVICES_SCHEDULER_EDGE_ADMISSION_H_

#include <cstdint>
#include <vector>

#include "absl/time/time.h"
#include "services/scheduler/admission.h"
#include "services/scheduler/queue_reservations.h"
#include "services/scheduler/request_queue.h"
#include "services/scheduler/request_validation.h"

namespace corvid::scheduler {

// What the edge reads of the core's state (the core publishes it after every loop).
struct EdgeView {
  const ModelLimits* limits = nullptr;
  const ClusterView* cluster = nullptr;
  absl::Duration full_queue_retry_hint = absl::Milliseconds(50);
};

// Decides whether `entry` (with its `prompt` and resolved `request`) may wait in the queue:
// INVALID_ARGUMENT for a prompt the model cannot take (CheckPrompt) or a context larger than
// any worker's KV cache, UNAVAILABLE with no live worker, RESOURCE_EXHAUSTED ("queue_full")
// when no queue place can be reserved, RESOURCE_EXHAUSTED ("deadline") when the request is
// estimated to start after its deadline, counting every reserved request of its class or
// higher as ahead of it. When the result's status is OK the request holds one reservation,
// which whoever queues it must Release when it leaves the queue; otherwise it holds none.
Refusal AdmitAtEdge(const QueueEntry& entry, const std::vector<int32_t>& prompt,
                    const ResolvedRequest& request, const EdgeView& view, absl::Time now,
                    QueueReservations* reservations);

}  // namespace corvid::scheduler

#endif  // CORVID_SERVICES_SCHEDULER_EDGE_ADMISSION_H_
