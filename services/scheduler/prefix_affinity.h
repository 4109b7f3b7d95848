// Prompt-prefix affinity routing. A worker with prefix caching keeps the KV of the full blocks
// of the prompts it ran (engine/prefix_hash.h names a block by the hash chain of its prefix),
// so a request whose prompt starts like an earlier one computes less where that one ran. The
// scheduler cannot see the workers' caches; it remembers, in a bounded LRU table, which block
// chains it sent to which worker, and prefers the worker with the longest match, unless that
// worker is noticeably busier than the least loaded one. Pure policy: no threads, no gRPC.
#ifndef CORVID_SERVICES_SCHEDULER_PREFIX_AFFINITY_H_
#define CORVID_SERVICES_SCHEDULER_PREFIX_AFFINITY_H_

#include <cstdint>
#include <list>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "services/scheduler/worker_load.h"

namespace corvid::scheduler {

struct AffinityOptions {
  bool enabled = true;
  // (block hash, worker) pairs remembered; the least recently sent are forgotten first.
  int max_entries = 1 << 17;
  // How much busier (WorkerLoad::Utilization, 0..1) than the least loaded worker the best
  // matching worker may be and still get the request. A hit saves the prefill of the matched
  // tokens, but piling every request of a hot prefix onto one worker would lengthen its steps
  // and fill its KV while others idle. 0.25 bounds that imbalance to a quarter of a worker;
  // past it the request spills to the least loaded worker, which then caches the prefix too,
  // so a hot prefix spreads over as many workers as its load needs.
  double max_load_gap = 0.25;
};

class PrefixAffinity {
 public:
  explicit PrefixAffinity(const AffinityOptions& options) : options_(options) {}

  bool enabled() const { return options_.enabled; }
  // Picks the worker for a request of `context_tokens` whose prompt is `prompt`: the least
  // loaded worker that fits (PickWorker), unless a worker with prefix caching that fits was
  // sent a longer prefix of the prompt and is at most max_load_gap busier. -1 when none fits.
  // `matched_tokens` (optional) gets the chosen worker's remembered match.
  int Pick(const std::vector<const WorkerLoad*>& workers, int context_tokens,
           const std::vector<int32_t>& prompt, int* matched_tokens = nullptr) const;
  // Remembers that `prompt` was sent to `worker` (a no-op for a worker without prefix caching).
  void Record(int worker, const WorkerLoad& load, const std::vector<int32_t>& prompt);
  // A worker restarted or went away: its cache is gone.
  void ForgetWorker(int worker);

  // Leading blocks of `chain` remembered for `worker`.
  int MatchedBlocks(int worker, const std::vector<uint64_t>& chain) const;
  int size() const { return static_cast<int>(lru_.size()); }

 private:
  using Key = std::pair<uint64_t, int>;  // block hash, worker
  // Hashes of the prompt's blocks that a later request can reuse: full blocks, leaving the
  // last prompt token (the engine always computes it).
  static std::vector<uint64_t> Chain(const std::vector<int32_t>& prompt, int block_size);

  AffinityOptions options_;
  std::list<Key> lru_;  // most recently sent first
  absl::flat_hash_map<Key, std::list<Key>::iterator> index_;
};

}  // namespace corvid::scheduler

#endif  // CORVID_SERVICES_SCHEDULER_PREFIX_AFFINITY_H_
