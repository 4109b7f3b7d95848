#include "engine/step_planner.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "engine/status_macros.h"

namespace corvid {

StepPlanner::StepPlanner(const PlannerLimits& limits, KvBlockManager* blocks)
    : limits_(limits), blocks_(blocks) {}

void StepPlanner::Enqueue(Sequence* seq) {
  seq->state = Sequence::State::kWaiting;
  seq->num_computed = 0;
  waiting_.push_back(seq);
}

void StepPlanner::Remove(Sequence* seq) {
  if (seq->state == Sequence::State::kRunning) {
    running_.erase(std::remove(running_.begin(), running_.end(), seq), running_.end());
  } else {
    waiting_.erase(std::remove(waiting_.begin(), waiting_.end(), seq), waiting_.end());
  }
  blocks_->Free(seq->id());
}

void StepPlanner::Preempt(Sequence* seq) {
  running_.erase(std::remove(running_.begin(), running_.end(), seq), running_.end());
  blocks_->Free(seq->id());
  // Recompute from scratch: the KV of prompt + output is rebuilt by a prefill on readmission.
  seq->state = Sequence::State::kWaiting;
  seq->num_computed = 0;
  seq->admitted_at = -1;
  waiting_.push_front(seq);
}

void StepPlanner::AddChunk(Sequence* seq, int num_tokens, bool decode, StepPlan* plan) {
  PlannedChunk chunk;
  chunk.seq = seq;
  chunk.num_tokens = num_tokens;
  chunk.sample = num_tokens == seq->num_pending();
  chunk.decode = decode;
  plan->chunks.push_back(chunk);
  (decode ? plan->num_decode_tokens : plan->num_prefill_tokens) += num_tokens;
}

absl::StatusOr<StepPlan> StepPlanner::Plan() {
  StepPlan plan;
  int budget = limits_.max_num_batched_tokens;
  RETURN_IF_ERROR(PlanDecodes(&plan, &budget));
  PlanPrefillContinuations(&plan, &budget);
  // Admitting while this step had to evict would only thrash: the victims wait at the front of
  // the FIFO for blocks that running sequences are about to need again.
  if (plan.num_preempted == 0) RETURN_IF_ERROR(PlanAdmissions(&plan, &budget));
  return plan;
}

absl::Status StepPlanner::PlanDecodes(StepPlan* plan, int* budget) {
  // Oldest first; victims come off the back of running_, so a sequence already planned in this
  // loop (lower index) is never evicted.
  for (size_t i = 0; i < running_.size(); ++i) {
    Sequence* seq = running_[i];
    if (!seq->decoding()) continue;
    // The pending token is the one sampled last step; its slot may need a new block.
    const int missing = seq->num_tokens() - blocks_->NumTokens(seq->id());
    bool evicted_self = false;
    while (missing > 0 && !blocks_->CanAppend(seq->id(), missing)) {
      Sequence* victim = running_.back();
      Preempt(victim);
      ++plan->num_preempted;
      if (victim == seq) {
        evicted_self = true;
        break;
      }
    }
    if (evicted_self) break;  // seq was the newest: nothing after it is left
    if (missing > 0) RETURN_IF_ERROR(blocks_->Append(seq->id(), missing));
    if (*budget < 1) {
      return absl::InternalError("step planner: decodes exceed the token budget");
    }
    AddChunk(seq, 1, /*decode=*/true, plan);
    *budget -= 1;
  }
  return absl::OkStatus();
}

void StepPlanner::PlanPrefillContinuations(StepPlan* plan, int* budget) {
  // Blocks for the whole (recompute) prompt were reserved at admission, so a chunk never
  // allocates; it only spends budget.
  for (Sequence* seq : running_) {
    if (*budget == 0) return;
    if (seq->decoding()) continue;
    const int n = std::min(seq->num_pending(), *budget);
    AddChunk(seq, n, /*decode=*/false, plan);
    *budget -= n;
  }
}

absl::Status StepPlanner::PlanAdmissions(StepPlan* plan, int* budget) {
  // Strict FIFO: a head that does not fit blocks the queue, so long prompts cannot starve.
  while (!waiting_.empty() && *budget > 0 &&
         static_cast<int>(running_.size()) < limits_.max_num_seqs) {
    Sequence* seq = waiting_.front();
    const std::vector<int32_t> prefix = MatchCachedPrefix(seq);
    if (!blocks_->CanAllocate(seq->num_tokens(), prefix)) break;
    RETURN_IF_ERROR(blocks_->Allocate(seq->id(), seq->num_tokens(), prefix));
    waiting_.pop_front();
    seq->state = Sequence::State::kRunning;
    seq->num_computed = static_cast<int>(prefix.size()) * blocks_->block_size();
    seq->prefill_len = seq->num_tokens();
    seq->admitted_at = next_admission_++;
    running_.push_back(seq);
    if (blocks_->prefix_caching()) {
      plan->num_prefix_queried_tokens += seq->num_tokens();
      plan->num_prefix_hit_tokens += seq->num_computed;
    }
    const int n = std::min(seq->num_pending(), *budget);
    AddChunk(seq, n, /*decode=*/false, plan);
    *budget -= n;
  }
  return absl::OkStatus();
}

std::vector<int32_t> StepPlanner::MatchCachedPrefix(Sequence* seq) const {
  if (!blocks_->prefix_caching()) return {};
  // At least the last history token is computed, so that the step has logits to sample.
  const int bs = blocks_->block_size();
  const int max_blocks = (seq->num_tokens() - 1) / bs;
  seq->HashBlocks(max_blocks * bs, bs);
  return blocks_->MatchPrefix(seq->block_hashes, max_blocks,
                              [seq](int i) { return seq->token(i); });
}

void StepPlanner::CacheComputedBlocks(Sequence* seq, int computed_before) {
  if (!blocks_->prefix_caching()) return;
  const int bs = blocks_->block_size();
  const int full = seq->num_computed / bs;
  seq->HashBlocks(full * bs, bs);
  for (int b = computed_before / bs; b < full; ++b) {
    const uint64_t parent = b == 0 ? kPrefixHashRoot : seq->block_hashes[b - 1];
    blocks_->CacheBlock(seq->id(), b, parent, seq->block_hashes[b],
                        [seq](int i) { return seq->token(i); });
  }
}

absl::Status StepPlanner::CheckInvariants() const {
  if (static_cast<int>(running_.size()) > limits_.max_num_seqs) {
    return absl::InternalError(absl::StrCat("planner: ", running_.size(),
                                            " running sequences over max_num_seqs"));
  }
  int64_t last_admission = -1;
  for (const Sequence* seq : running_) {
    const int reserved = blocks_->NumTokens(seq->id());
    if (seq->state != Sequence::State::kRunning || !blocks_->Has(seq->id()) ||
        seq->admitted_at <= last_admission) {
      return absl::InternalError(absl::StrCat("planner: running sequence ", seq->id(),
                                              " is in a bad state or out of admission order"));
    }
    // Blocks cover every token but, between steps, possibly the one sampled last.
    if (seq->num_computed > reserved || reserved < seq->num_tokens() - 1 ||
        reserved > seq->num_tokens()) {
      return absl::InternalError(absl::StrCat("planner: sequence ", seq->id(), " reserves ",
                                              reserved, " slots for ", seq->num_tokens(),
                                              " tokens, ", seq->num_computed, " computed"));
    }
    last_admission = seq->admitted_at;
    RETURN_IF_ERROR(CheckSharedBlocks(*seq));
  }
  for (const Sequence* seq : waiting_) {
    if (seq->state != Sequence::State::kWaiting || blocks_->Has(seq->id()) ||
        seq->num_computed != 0) {
      return absl::InternalError(
          absl::StrCat("planner: waiting sequence ", seq->id(), " holds KV state"));
    }
  }
  if (blocks_->num_sequences() != static_cast<int>(running_.size())) {
    return absl::InternalError("planner: block tables that no running sequence owns");
  }
  return blocks_->CheckInvariants();
}

absl::Status StepPlanner::CheckSharedBlocks(const Sequence& seq) const {
  // A block another table may read (shared or registered) must hold only computed positions of
  // this sequence, so that no step of it ever writes there.
  const std::vector<int32_t>& table = blocks_->BlockTable(seq.id());
  const int bs = blocks_->block_size();
  for (int i = 0; i < static_cast<int>(table.size()); ++i) {
    const int32_t b = table[i];
    if ((blocks_->RefCount(b) > 1 || blocks_->IsCached(b)) && (i + 1) * bs > seq.num_computed) {
      return absl::InternalError(absl::StrCat("planner: sequence ", seq.id(), " block ", i,
                                              " is shared or cached but not fully computed"));
    }
  }
  return absl::OkStatus();
}

}  // namespace corvid
