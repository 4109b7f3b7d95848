// The scheduler's view of one worker's capacity, and the routing choice among workers.
//
// The worker reports `available_blocks`/`free_slots` as of the last session message it applied
// (`applied_seq`, see proto/corvid/v1/worker.proto). Admissions the scheduler sent after that are
// not in the report yet, so the credit is the report minus those in-flight admissions. Pure
// policy: no threads, no gRPC.
#ifndef CORVID_SERVICES_SCHEDULER_WORKER_LOAD_H_
#define CORVID_SERVICES_SCHEDULER_WORKER_LOAD_H_

#include <cstdint>
#include <map>
#include <utility>
#include <vector>

namespace corvid::scheduler {

struct CapacityReport {
  uint64_t applied_seq = 0;
  int available_blocks = 0;
  int free_blocks = 0;
  int total_blocks = 0;
  int block_size = 16;
  int free_slots = 0;
  int running = 0;
  int waiting = 0;
  double avg_step_ms = 0;
  bool draining = false;
};

class WorkerLoad {
 public:
  // `max_sequences` is the worker's slot count (WorkerInfo.max_sequences); `prefix_caching`
  // whether its engine reuses cached prefixes (WorkerInfo.prefix_caching).
  explicit WorkerLoad(int max_sequences, bool prefix_caching = false)
      : max_sequences_(max_sequences), prefix_caching_(prefix_caching) {}

  // A new report: forgets in-flight admissions the worker has now accounted for.
  void OnCapacity(const CapacityReport& report);
  bool has_report() const { return has_report_; }
  const CapacityReport& last_report() const { return last_; }

  int available_blocks() const;
  int free_slots() const;
  int max_sequences() const { return max_sequences_; }
  bool prefix_caching() const { return prefix_caching_; }
  // KV blocks a request of `context_tokens` (prompt + max_tokens) takes on this worker.
  int BlocksFor(int context_tokens) const;
  // True when one more request of `context_tokens` fits the credit.
  bool Fits(int context_tokens) const;
  // 0 = idle, 1 = full: the larger of block and slot utilization of the credit.
  double Utilization() const;

  // Takes credit for an admission that will go out in the next message...
  void Reserve(int context_tokens);
  // ...and returns that message's seq (also for messages without admissions).
  uint64_t Commit();
  uint64_t next_seq() const { return next_seq_; }

 private:
  int max_sequences_;
  bool prefix_caching_;
  CapacityReport last_;
  bool has_report_ = false;
  uint64_t next_seq_ = 1;
  std::map<uint64_t, std::pair<int, int>> in_flight_;  // seq -> (blocks, slots)
  int in_flight_blocks_ = 0;
  int in_flight_slots_ = 0;
  int pending_blocks_ = 0;
  int pending_slots_ = 0;
};

// Least-loaded routing: the worker with the lowest utilization among those that fit a request
// of `context_tokens`; ties go to the lower index. -1 when none fits. Null entries (dead
// workers) are skipped.
int PickWorker(const std::vector<const WorkerLoad*>& workers, int context_tokens);

}  // namespace corvid::scheduler

#endif  // CORVID_SERVICES_SCHEDULER_WORKER_LOAD_H_
