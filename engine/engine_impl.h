// The Engine over one Backend: request bookkeeping, batch building and token events. Scheduling
// policy lives in StepPlanner, KV accounting in KvBlockManager (docs/engine.md).
#ifndef CORVID_ENGINE_ENGINE_IMPL_H_
#define CORVID_ENGINE_ENGINE_IMPL_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "engine/engine.h"
#include "engine/kv_block_manager.h"
#include "engine/sequence.h"
#include "engine/step_planner.h"

namespace corvid {

class EngineImpl : public Engine {
 public:
  // Use Engine::Create, which validates `options` and resolves max_model_len.
  EngineImpl(std::unique_ptr<Backend> backend, const EngineOptions& options, int max_model_len);

  absl::Status Add(GenerationRequest request) override;
  void Cancel(int64_t id) override;
  absl::Status Step(std::vector<TokenEvent>* events, StepStats* stats = nullptr) override;
  bool HasWork() const override { return !seqs_.empty() || !cancelled_.empty(); }
  EngineCapacity Capacity() const override;
  const ModelConfig& config() const override { return backend_->config(); }

  int max_model_len() const { return max_model_len_; }
  // Block accounting and planner invariants (tests; debug builds check after every step).
  absl::Status CheckInvariants() const;

 private:
  absl::Status BuildBatch(const StepPlan& plan, StepBatch* batch) const;
  // Checks the backend's answer before anything is mutated.
  absl::Status CheckResult(const StepPlan& plan, const StepResult& result) const;
  void ApplyResult(const StepPlan& plan, const StepResult& result,
                   std::vector<TokenEvent>* events);
  FinishReason FinishOf(const Sequence& seq) const;
  // Whether `id` was cancelled and its kCancelled event is not out yet (the id is still taken).
  bool CancelPending(int64_t id) const;
  // After a failed Execute the batch's KV is unspecified: recompute its sequences.
  void RequeueBatch(const StepPlan& plan);

  std::unique_ptr<Backend> backend_;
  EngineOptions options_;
  int max_model_len_;
  uint64_t seed_state_;  // SplitMix64 state drawing per-request seeds
  KvBlockManager blocks_;
  StepPlanner planner_;
  absl::flat_hash_map<int64_t, std::unique_ptr<Sequence>> seqs_;  // waiting + running
  std::vector<int64_t> cancelled_;  // ids whose kCancelled event the next step emits
};

}  // namespace corvid

#endif  // CORVID_ENGINE_ENGINE_IMPL_H_
