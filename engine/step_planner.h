// The scheduling policy of one engine step: which sequences run, with how many tokens each, and
// who is preempted when KV blocks run out. Pure host logic over the waiting FIFO, the running
// set and the KvBlockManager (see docs/engine.md, "The step algorithm").
#ifndef CORVID_ENGINE_STEP_PLANNER_H_
#define CORVID_ENGINE_STEP_PLANNER_H_

#include <cstdint>
#include <deque>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/kv_block_manager.h"
#include "engine/sequence.h"

namespace corvid {

struct PlannedChunk {
  Sequence* seq = nullptr;
  int num_tokens = 0;  // query tokens: positions num_computed .. num_computed + num_tokens - 1
  bool sample = false;  // the chunk reaches the end of the sequence's known tokens
  bool decode = false;  // a decode (else a prefill chunk, possibly of a recompute prompt)
};

struct StepPlan {
  std::vector<PlannedChunk> chunks;  // decodes first (oldest first), then prefill chunks
  int num_prefill_tokens = 0;
  int num_decode_tokens = 0;
  int num_preempted = 0;
  int num_prefix_queried_tokens = 0;  // history tokens of admissions looked up in the cache
  int num_prefix_hit_tokens = 0;      // ...and found there (num_computed at admission)
};

struct PlannerLimits {
  int max_num_seqs = 64;             // running sequences
  int max_num_batched_tokens = 512;  // >= max_num_seqs, so every decode always fits
};

class StepPlanner {
 public:
  // `blocks` must outlive the planner; the planner is the only one that allocates from it.
  StepPlanner(const PlannerLimits& limits, KvBlockManager* blocks);

  // Appends a new sequence to the waiting FIFO.
  void Enqueue(Sequence* seq);
  // Takes `seq` out of the waiting FIFO or the running set and frees its blocks (finish, cancel).
  void Remove(Sequence* seq);
  // Requeues running `seq` for recompute: frees its blocks and puts it at the front of waiting.
  void Preempt(Sequence* seq);

  // Plans the next step and performs its block allocation: decodes of running sequences first
  // (preempting the most recently admitted ones when blocks run out), then the continuation of
  // partial prefills, then admissions from the waiting FIFO while blocks, max_num_seqs and the
  // token budget allow. The plan's pointers stay valid until the sequences are removed. INTERNAL
  // only on a broken invariant.
  absl::StatusOr<StepPlan> Plan();

  const std::deque<Sequence*>& waiting() const { return waiting_; }
  const std::vector<Sequence*>& running() const { return running_; }

  // After a step computed `seq` up to seq->num_computed (from `computed_before`): registers
  // the blocks that became full in the prefix cache.
  void CacheComputedBlocks(Sequence* seq, int computed_before);

  // The planner's invariants (see docs/engine.md): INTERNAL naming the first violation.
  absl::Status CheckInvariants() const;

 private:
  absl::Status PlanDecodes(StepPlan* plan, int* budget);
  void PlanPrefillContinuations(StepPlan* plan, int* budget);
  absl::Status PlanAdmissions(StepPlan* plan, int* budget);
  static void AddChunk(Sequence* seq, int num_tokens, bool decode, StepPlan* plan);
  // The cached blocks a new admission of `seq` can start from (empty when caching is off).
  std::vector<int32_t> MatchCachedPrefix(Sequence* seq) const;
  absl::Status CheckSharedBlocks(const Sequence& seq) const;

  PlannerLimits limits_;
  KvBlockManager* blocks_;
  std::deque<Sequence*> waiting_;
  std::vector<Sequence*> running_;  // in admission order
  int64_t next_admission_ = 0;
};

}  // namespace corvid

#endif  // CORVID_ENGINE_STEP_PLANNER_H_
