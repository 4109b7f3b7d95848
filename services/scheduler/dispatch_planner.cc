#include "services/scheduler/dispatch_planner.h"

namespace corvid::scheduler {

std::vector<DispatchBatch> PlanDispatch(RequestQueue* queue, std::vector<WorkerLoad*>& workers,
                                        int max_batch, const PrefixRouting* routing) {
  std::vector<const WorkerLoad*> candidates(workers.begin(), workers.end());
  std::vector<int> batch_of(workers.size(), -1);
  std::vector<DispatchBatch> batches;
  const bool affinity = routing != nullptr && routing->affinity != nullptr &&
                        routing->affinity->enabled() && routing->prompt_of;
  while (const QueueEntry* front = queue->Front()) {
    int context = front->prompt_tokens + front->max_tokens;
    int matched = 0;
    const std::vector<int32_t>* prompt = affinity ? &routing->prompt_of(front->id) : nullptr;
    int w = affinity ? routing->affinity->Pick(candidates, context, *prompt, &matched)
                     : PickWorker(candidates, context);
    if (w < 0) break;
    if (batch_of[w] < 0) {
      batch_of[w] = static_cast<int>(batches.size());
      batches.push_back(DispatchBatch{w, {}});
    }
    DispatchBatch& batch = batches[batch_of[w]];
    workers[w]->Reserve(context);
    if (affinity) {
      // Followers in this same pass see the prefix as sent here already.
      routing->affinity->Record(w, *workers[w], *prompt);
      batch.affinity_routed += matched > 0 ? 1 : 0;
      batch.matched_tokens += matched;
    }
    batch.entries.push_back(queue->PopFront());
    if (max_batch > 0 && static_cast<int>(batch.entries.size()) >= max_batch) {
      candidates[w] = nullptr;  // full for this round
    }
  }
  return batches;
}

}  // namespace corvid::scheduler
