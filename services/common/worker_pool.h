// A fixed pool of threads with a bounded queue, for work that must not run on gRPC's reactor
// threads. Full queue => the caller rejects the request (RESOURCE_EXHAUSTED) instead of letting
// latency grow without bound.
#ifndef CORVID_SERVICES_COMMON_WORKER_POOL_H_
#define CORVID_SERVICES_COMMON_WORKER_POOL_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace corvid::service {

class WorkerPool {
 public:
  // threads >= 1; max_queued >= 0 tasks may wait beyond those running.
  WorkerPool(int threads, int max_queued);
  // Runs what is queued, then joins the threads.
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues `task`; false (task dropped) when max_queued tasks already wait.
  bool TrySubmit(std::function<void()> task);

  int64_t queued() const;
  int threads() const { return static_cast<int>(threads_.size()); }

 private:
  void Loop();

  const int64_t max_queued_;
  mutable absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  int64_t idle_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace corvid::service

#endif  // CORVID_SERVICES_COMMON_WORKER_POOL_H_
