#include "engine/cpu_parallel.h"

#include <sched.h>

#include <chrono>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace corvid {
namespace {

thread_local TeamMember tls_member;

// How long a waiting member spins before it sleeps: long enough to cover the gap between two
// ops of one step on a quiet machine, short enough to cost little when the team is preempted.
constexpr auto kSpinBudget = std::chrono::microseconds(50);

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

}  // namespace

const TeamMember& CurrentTeamMember() { return tls_member; }

ThreadTeam::ThreadTeam(int num_threads) : num_threads_(num_threads < 1 ? 1 : num_threads) {
  for (int i = 1; i < num_threads_; ++i) workers_.emplace_back([this, i] { WorkerMain(i); });
}

ThreadTeam::~ThreadTeam() {
  stop_ = true;
  Advance(job_generation_);
  for (std::thread& t : workers_) t.join();
}

void ThreadTeam::Run(const std::function<void()>& fn) {
  job_ = &fn;
  Advance(job_generation_);  // the release store publishes job_ to the workers
  const TeamMember saved = tls_member;
  tls_member = TeamMember{this, 0};
  fn();
  Barrier();
  tls_member = saved;
}

void ThreadTeam::WorkerMain(int index) {
  tls_member = TeamMember{this, index};
  uint32_t seen = 0;
  while (true) {
    WaitForChange(job_generation_, seen);
    seen = job_generation_.load(std::memory_order_acquire);
    if (stop_) return;
    (*job_)();
    Barrier();
  }
}

void ThreadTeam::Barrier() {
  if (num_threads_ == 1) {
    loop_counter_.store(0, std::memory_order_relaxed);
    return;
  }
  const uint32_t gen = barrier_generation_.load(std::memory_order_acquire);
  if (arrived_.fetch_add(1, std::memory_order_acq_rel) == num_threads_ - 1) {
    // Last to arrive: everyone else is waiting, so the loop counter can be reset safely.
    arrived_.store(0, std::memory_order_relaxed);
    loop_counter_.store(0, std::memory_order_relaxed);
    Advance(barrier_generation_);
  } else {
    WaitForChange(barrier_generation_, gen);
  }
}

void ThreadTeam::WaitForChange(const std::atomic<uint32_t>& gen, uint32_t seen) {
  const auto deadline = std::chrono::steady_clock::now() + kSpinBudget;
  for (int i = 1;; ++i) {
    if (gen.load(std::memory_order_acquire) != seen) return;
    CpuRelax();
    if (i % 64 == 0 && std::chrono::steady_clock::now() > deadline) break;
  }
  // Sleep. The seq_cst increment of sleepers_ and Advance's seq_cst bump-then-read order the
  // two sides: either Advance sees a sleeper and notifies under the lock, or this thread sees
  // the new generation under the lock and does not wait.
  sleepers_.fetch_add(1, std::memory_order_seq_cst);
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return gen.load(std::memory_order_seq_cst) != seen; });
  }
  sleepers_.fetch_sub(1, std::memory_order_relaxed);
}

void ThreadTeam::Advance(std::atomic<uint32_t>& gen) {
  gen.fetch_add(1, std::memory_order_seq_cst);
  if (sleepers_.load(std::memory_order_seq_cst) > 0) {
    std::lock_guard<std::mutex> lock(mu_);
    cv_.notify_all();
  }
}

void ParallelRegion(int num_threads, const std::function<void()>& fn) {
  ThreadTeam team(num_threads);
  team.Run(fn);
}

int ResolveNumThreads(int requested) {
  if (requested > 0) return requested;
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return CPU_COUNT(&set);
  const unsigned n = std::thread::hardware_concurrency();
  return n > 0 ? static_cast<int>(n) : 1;
}

}  // namespace corvid
