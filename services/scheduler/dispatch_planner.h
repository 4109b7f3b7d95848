// Dynamic batching: turns the queue and the workers' credit into admission batches, one per
// worker, in strict queue order. Called whenever capacity may have appeared (a worker's report)
// or work arrived (a push), so that everything dispatchable at that moment leaves in one message
// per worker. Pure policy.
#ifndef CORVID_SERVICES_SCHEDULER_DISPATCH_PLANNER_H_
#define CORVID_SERVICES_SCHEDULER_DISPATCH_PLANNER_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "services/scheduler/prefix_affinity.h"
#include "services/scheduler/request_queue.h"
#include "services/scheduler/worker_load.h"

namespace corvid::scheduler {

struct DispatchBatch {
  int worker = -1;  // index into the workers vector
  std::vector<QueueEntry> entries;
  int affinity_routed = 0;     // entries sent here for a remembered prefix match
  int64_t matched_tokens = 0;  // their remembered matched tokens
};

// Prefix-affinity routing for PlanDispatch: the table, and the prompt of a queued request.
struct PrefixRouting {
  PrefixAffinity* affinity = nullptr;
  std::function<const std::vector<int32_t>&(uint64_t id)> prompt_of;
};

// Pops requests from the front of `queue` while the front fits some worker (least loaded wins,
// or with `routing` the worker that was sent the longest prefix of its prompt unless it is
// much busier; see PrefixAffinity), reserving their credit on the chosen WorkerLoad (the caller
// Commit()s when it sends the batch) and recording their prompts in the affinity table. Stops at
// the first request that fits nowhere, so a large request is not starved by smaller ones behind
// it. Null workers are dead and skipped. At most `max_batch` entries go to one worker per call
// (0 = no limit).
std::vector<DispatchBatch> PlanDispatch(RequestQueue* queue, std::vector<WorkerLoad*>& workers,
                                        int max_batch = 0, const PrefixRouting* routing = nullptr);

}  // namespace corvid::scheduler

#endif  // CORVID_SERVICES_SCHEDULER_DISPATCH_PLANNER_H_
