#include "services/scheduler/worker_load.h"

#include <algorithm>

namespace corvid::scheduler {

void WorkerLoad::OnCapacity(const CapacityReport& report) {
  last_ = report;
  has_report_ = true;
  while (!in_flight_.empty() && in_flight_.begin()->first <= report.applied_seq) {
    in_flight_blocks_ -= in_flight_.begin()->second.first;
    in_flight_slots_ -= in_flight_.begin()->second.second;
    in_flight_.erase(in_flight_.begin());
  }
}

int WorkerLoad::available_blocks() const {
  return last_.available_blocks - in_flight_blocks_ - pending_blocks_;
}

int WorkerLoad::free_slots() const {
  return last_.free_slots - in_flight_slots_ - pending_slots_;
}

int WorkerLoad::BlocksFor(int context_tokens) const {
  return (context_tokens + last_.block_size - 1) / std::max(last_.block_size, 1);
}

bool WorkerLoad::Fits(int context_tokens) const {
  return has_report_ && !last_.draining && free_slots() > 0 &&
         available_blocks() >= BlocksFor(context_tokens);
}

double WorkerLoad::Utilization() const {
  double blocks = last_.total_blocks > 0
                      ? 1.0 - static_cast<double>(available_blocks()) / last_.total_blocks
                      : 1.0;
  double slots = max_sequences_ > 0
                     ? 1.0 - static_cast<double>(free_slots()) / max_sequences_
                     : 1.0;
  return std::max(blocks, slots);
}

void WorkerLoad::Reserve(int context_tokens) {
  pending_blocks_ += BlocksFor(context_tokens);
  pending_slots_ += 1;
}

uint64_t WorkerLoad::Commit() {
  uint64_t seq = next_seq_++;
  if (pending_slots_ > 0) {
    in_flight_[seq] = {pending_blocks_, pending_slots_};
    in_flight_blocks_ += pending_blocks_;
    in_flight_slots_ += pending_slots_;
  }
  pending_blocks_ = 0;
  pending_slots_ = 0;
  return seq;
}

int PickWorker(const std::vector<const WorkerLoad*>& workers, int context_tokens) {
  int best = -1;
  double best_util = 2.0;
  for (int i = 0; i < static_cast<int>(workers.size()); ++i) {
    const WorkerLoad* w = workers[i];
    if (w == nullptr || !w->Fits(context_tokens)) continue;
    double util = w->Utilization();
    if (util < best_util) {
      best = i;
      best_util = util;
    }
  }
  return best;
}

}  // namespace corvid::scheduler
