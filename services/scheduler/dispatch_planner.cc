#include "services/scheduler/dispatch_planner.h"

namespace corvid::scheduler {

std::vector<DispatchBatch> PlanDispatch(RequestQueue* queue, std::vector<WorkerLoad*>& workers,
                                        int max_batch) {
  std::vector<const WorkerLoad*> candidates(workers.begin(), workers.end());
  std::vector<int> batch_of(workers.size(), -1);
  std::vector<DispatchBatch> batches;
  while (const QueueEntry* front = queue->Front()) {
    int context = front->prompt_tokens + front->max_tokens;
    int w = PickWorker(candidates, context);
    if (w < 0) break;
    if (batch_of[w] < 0) {
      batch_of[w] = static_cast<int>(batches.size());
      batches.push_back(DispatchBatch{w, {}});
    }
    DispatchBatch& batch = batches[batch_of[w]];
    workers[w]->Reserve(context);
    batch.entries.push_back(queue->PopFront());
    if (max_batch > 0 && static_cast<int>(batch.entries.size()) >= max_batch) {
      candidates[w] = nullptr;  // full for this round
    }
  }
  return batches;
}

}  // namespace corvid::scheduler
