// The CPU backend's threading: a persistent team whose threads all run the same step code and
// share each op's rows through ParallelFor (the same contract as an orphaned `omp for`: every
// thread of the team calls it, and it ends with a barrier).
//
// Why not OpenMP: libgomp's barrier spins for up to GOMP_SPINCOUNT iterations (milliseconds)
// before sleeping. A step has ~10 barriers per layer, and on a machine shared with other work
// (CI, build boxes) a preempted team member makes the others burn whole time slices spinning:
// steps ran 20-50x slower under load. This team spins briefly, then blocks.
#ifndef CORVID_ENGINE_CPU_PARALLEL_H_
#define CORVID_ENGINE_CPU_PARALLEL_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace corvid {

class ThreadTeam {
 public:
  // Starts num_threads - 1 workers; the thread calling Run is member 0.
  explicit ThreadTeam(int num_threads);
  ~ThreadTeam();
  ThreadTeam(const ThreadTeam&) = delete;
  ThreadTeam& operator=(const ThreadTeam&) = delete;

  int size() const { return num_threads_; }
  // Runs `fn` on every member and returns when all have finished. Not reentrant.
  void Run(const std::function<void()>& fn);
  // Waits for every member; also resets the shared loop counter for the next ParallelFor.
  void Barrier();
  std::atomic<int>& loop_counter() { return loop_counter_; }

 private:
  void WorkerMain(int index);
  // Returns once `gen` differs from `seen`: spins for a few microseconds, then sleeps.
  void WaitForChange(const std::atomic<uint32_t>& gen, uint32_t seen);
  void Advance(std::atomic<uint32_t>& gen);

  const int num_threads_;
  std::vector<std::thread> workers_;
  const std::function<void()>* job_ = nullptr;
  bool stop_ = false;
  std::atomic<uint32_t> job_generation_{0};
  std::atomic<uint32_t> barrier_generation_{0};
  std::atomic<int> arrived_{0};
  std::atomic<int> loop_counter_{0};
  std::atomic<int> sleepers_{0};
  std::mutex mu_;
  std::condition_variable cv_;
};

// The team the calling thread is running in, with its member index; team == nullptr outside.
struct TeamMember {
  ThreadTeam* team = nullptr;
  int index = 0;
};
const TeamMember& CurrentTeamMember();

// Work-shared loop over [0, n) with dynamic scheduling (one index at a time, for uneven or
// coarse work items), ending with the team's barrier. Serial when called outside a team.
template <typename F>
void ParallelFor(int n, F&& body) {
  const TeamMember& m = CurrentTeamMember();
  if (m.team == nullptr) {
    for (int i = 0; i < n; ++i) body(i);
    return;
  }
  std::atomic<int>& next = m.team->loop_counter();
  for (int i = next.fetch_add(1, std::memory_order_relaxed); i < n;
       i = next.fetch_add(1, std::memory_order_relaxed)) {
    body(i);
  }
  m.team->Barrier();
}

// Work-shared loop with a static split (contiguous ranges, for many cheap uniform items).
template <typename F>
void ParallelForStatic(int n, F&& body) {
  const TeamMember& m = CurrentTeamMember();
  if (m.team == nullptr) {
    for (int i = 0; i < n; ++i) body(i);
    return;
  }
  const int p = m.team->size();
  const int begin = static_cast<int>(int64_t{n} * m.index / p);
  const int end = static_cast<int>(int64_t{n} * (m.index + 1) / p);
  for (int i = begin; i < end; ++i) body(i);
  m.team->Barrier();
}

// Runs `fn` on every member of a temporary team of `num_threads` (tests; the backend keeps one
// team for its lifetime).
void ParallelRegion(int num_threads, const std::function<void()>& fn);

// `requested`, or the number of CPUs this process may run on when `requested` <= 0.
int ResolveNumThreads(int requested);

}  // namespace corvid

#endif  // CORVID_ENGINE_CPU_PARALLEL_H_
