#include "engine/engine_impl.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/request_validation.h"
#include "engine/status_macros.h"

namespace corvid {
namespace {

uint64_t SplitMix64(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

bool Contains(const std::vector<int32_t>& ids, int32_t id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

absl::Status ValidateOptions(const Backend& backend, const EngineOptions& options,
                             int max_model_len) {
  if (options.max_num_seqs < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_num_seqs must be >= 1, got ", options.max_num_seqs));
  }
  // Every running sequence must be able to decode in every step (docs/engine.md, budget).
  if (options.max_num_batched_tokens < options.max_num_seqs) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_num_batched_tokens (", options.max_num_batched_tokens,
        ") must be >= max_num_seqs (", options.max_num_seqs, ")"));
  }
  const int model_max = backend.config().max_position_embeddings;
  if (options.max_model_len < 0 || max_model_len < 1 || max_model_len > model_max) {
    return absl::InvalidArgumentError(absl::StrCat("max_model_len must be in [1, ", model_max,
                                                   "] (0 = the model's), got ",
                                                   options.max_model_len));
  }
  const KvCacheGeometry geometry = backend.kv_geometry();
  if (geometry.block_size < 1 || geometry.num_blocks < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "backend ", backend.Name(), " reports a KV cache of ", geometry.num_blocks,
        " blocks of ", geometry.block_size, " tokens"));
  }
  if (backend.config().vocab_size < 1) {
    return absl::InvalidArgumentError("model config has no vocabulary");
  }
  return absl::OkStatus();
}

}  // namespace

const char* FinishReasonName(FinishReason r) {
  switch (r) {
    case FinishReason::kNone: return "none";
    case FinishReason::kLength: return "length";
    case FinishReason::kStop: return "stop";
    case FinishReason::kCancelled: return "cancelled";
  }
  return "unknown";
}

absl::StatusOr<std::unique_ptr<Engine>> Engine::Create(std::unique_ptr<Backend> backend,
                                                       const EngineOptions& options) {
  if (backend == nullptr) return absl::InvalidArgumentError("Engine::Create: no backend");
  const int max_model_len = options.max_model_len > 0
                                ? options.max_model_len
                                : backend->config().max_position_embeddings;
  RETURN_IF_ERROR(ValidateOptions(*backend, options, max_model_len));
  return std::unique_ptr<Engine>(new EngineImpl(std::move(backend), options, max_model_len));
}

EngineImpl::EngineImpl(std::unique_ptr<Backend> backend, const EngineOptions& options,
                       int max_model_len)
    : backend_(std::move(backend)),
      options_(options),
      max_model_len_(max_model_len),
      seed_state_(options.seed),
      blocks_(backend_->kv_geometry().num_blocks, backend_->kv_geometry().block_size,
              options.enable_prefix_caching),
      planner_(PlannerLimits{options.max_num_seqs, options.max_num_batched_tokens}, &blocks_) {}

absl::Status EngineImpl::Add(GenerationRequest request) {
  if (seqs_.contains(request.id) || CancelPending(request.id)) {
    return absl::InvalidArgumentError(
        absl::StrCat("id ", request.id, " is already used by a live request"));
  }
  RETURN_IF_ERROR(ValidateRequest(request, config(), max_model_len_, blocks_));
  if (!request.has_seed) request.sampling.seed = SplitMix64(&seed_state_);
  auto seq = std::make_unique<Sequence>();
  seq->request = std::move(request);
  Sequence* raw = seq.get();
  seqs_.emplace(raw->id(), std::move(seq));
  planner_.Enqueue(raw);
  return absl::OkStatus();
}

bool EngineImpl::CancelPending(int64_t id) const {
  return std::find(cancelled_.begin(), cancelled_.end(), id) != cancelled_.end();
}

void EngineImpl::Cancel(int64_t id) {
  auto it = seqs_.find(id);
  if (it == seqs_.end()) return;
  planner_.Remove(it->second.get());  // frees its blocks now, before the next step plans
  seqs_.erase(it);
  cancelled_.push_back(id);
}

EngineCapacity EngineImpl::Capacity() const {
  EngineCapacity capacity;
  capacity.num_kv_blocks = blocks_.num_blocks();
  capacity.free_kv_blocks = blocks_.num_free_blocks();
  capacity.block_size = blocks_.block_size();
  capacity.running = static_cast<int>(planner_.running().size());
  capacity.waiting = static_cast<int>(planner_.waiting().size());
  capacity.cached_kv_blocks = blocks_.num_cached_blocks();
  return capacity;
}

absl::Status EngineImpl::Step(std::vector<TokenEvent>* events, StepStats* stats) {
  for (int64_t id : cancelled_) {
    TokenEvent event;
    event.id = id;
    event.finish = FinishReason::kCancelled;
    events->push_back(std::move(event));
  }
  cancelled_.clear();
  ASSIGN_OR_RETURN(StepPlan plan, planner_.Plan());
  if (stats != nullptr) {
    stats->num_prefill_tokens = plan.num_prefill_tokens;
    stats->num_decode_tokens = plan.num_decode_tokens;
    stats->num_preempted = plan.num_preempted;
    stats->num_prefix_queried_tokens = plan.num_prefix_queried_tokens;
    stats->num_prefix_hit_tokens = plan.num_prefix_hit_tokens;
  }
  if (plan.chunks.empty()) return absl::OkStatus();
  StepBatch batch;
  RETURN_IF_ERROR(BuildBatch(plan, &batch));
  StepResult result;
  absl::Status status = backend_->Execute(batch, &result);
  if (status.ok()) status = CheckResult(plan, result);
  if (!status.ok()) {
    RequeueBatch(plan);
    return status;
  }
  ApplyResult(plan, result, events);
#ifndef NDEBUG
  const absl::Status invariants = CheckInvariants();
  if (!invariants.ok()) {
    std::fprintf(stderr, "engine: %s\n", invariants.ToString().c_str());
    std::abort();
  }
#endif
  return absl::OkStatus();
}

absl::Status EngineImpl::BuildBatch(const StepPlan& plan, StepBatch* batch) const {
  batch->block_indptr.assign(1, 0);
  batch->seqs.reserve(plan.chunks.size());
  for (const PlannedChunk& chunk : plan.chunks) {
    const Sequence& seq = *chunk.seq;
    const int start = seq.num_computed;
    const int context_len = start + chunk.num_tokens;
    for (int p = start; p < context_len; ++p) {
      batch->token_ids.push_back(seq.token(p));
      batch->positions.push_back(p);
    }
    StepSequence s;
    s.seq_id = seq.id();
    s.num_query_tokens = chunk.num_tokens;
    s.context_len = context_len;
    s.sample = chunk.sample;
    s.sampling = &seq.request.sampling;
    s.prompt = &seq.request.prompt;
    s.output = &seq.output;
    batch->seqs.push_back(s);
    RETURN_IF_ERROR(
        blocks_.AppendToCsr(seq.id(), context_len, &batch->block_indptr, &batch->block_ids));
  }
  return absl::OkStatus();
}

absl::Status EngineImpl::CheckResult(const StepPlan& plan, const StepResult& result) const {
  const size_t expected = std::count_if(plan.chunks.begin(), plan.chunks.end(),
                                        [](const PlannedChunk& c) { return c.sample; });
  if (result.tokens.size() != expected) {
    return absl::InternalError(absl::StrCat("backend ", backend_->Name(), " returned ",
                                            result.tokens.size(), " tokens for ", expected,
                                            " sampled sequences"));
  }
  for (const SampledToken& token : result.tokens) {
    if (token.token < 0 || token.token >= config().vocab_size) {
      return absl::InternalError(absl::StrCat("backend ", backend_->Name(),
                                              " sampled token id ", token.token,
                                              " outside the vocabulary"));
    }
  }
  return absl::OkStatus();
}

void EngineImpl::ApplyResult(const StepPlan& plan, const StepResult& result,
                             std::vector<TokenEvent>* events) {
  size_t next = 0;
  for (const PlannedChunk& chunk : plan.chunks) {
    Sequence* seq = chunk.seq;
    seq->num_computed += chunk.num_tokens;
    planner_.CacheComputedBlocks(seq, seq->num_computed - chunk.num_tokens);
    if (!chunk.sample) continue;
    const SampledToken& token = result.tokens[next++];
    seq->output.push_back(token.token);
    TokenEvent event;
    event.id = seq->id();
    event.token = token;
    event.finish = FinishOf(*seq);
    const bool finished = event.finish != FinishReason::kNone;
    events->push_back(std::move(event));
    if (finished) {
      planner_.Remove(seq);  // frees its blocks within this step
      seqs_.erase(seq->id());
    }
  }
}

FinishReason EngineImpl::FinishOf(const Sequence& seq) const {
  const GenerationRequest& request = seq.request;
  const int32_t last = seq.output.back();
  if (!request.ignore_eos && Contains(config().eos_token_ids, last)) return FinishReason::kStop;
  if (Contains(request.stop_token_ids, last)) return FinishReason::kStop;
  if (static_cast<int>(seq.output.size()) >= request.max_tokens) return FinishReason::kLength;
  // Add() keeps prompt + max_tokens within max_model_len; this guards the cache bound anyway.
  if (seq.num_tokens() >= max_model_len_) return FinishReason::kLength;
  return FinishReason::kNone;
}

void EngineImpl::RequeueBatch(const StepPlan& plan) {
  std::vector<Sequence*> seqs;
  for (const PlannedChunk& chunk : plan.chunks) seqs.push_back(chunk.seq);
  // Newest first, so that the oldest ends up at the front of the waiting FIFO.
  std::sort(seqs.begin(), seqs.end(),
            [](const Sequence* a, const Sequence* b) { return a->admitted_at > b->admitted_at; });
  for (Sequence* seq : seqs) planner_.Preempt(seq);
  // The failed step may have damaged KV that cached blocks describe: trust none of it.
  blocks_.ClearCache();
}

absl::Status EngineImpl::CheckInvariants() const {
  const size_t live = planner_.running().size() + planner_.waiting().size();
  if (live != seqs_.size()) {
    return absl::InternalError(absl::StrCat("engine: ", seqs_.size(), " live requests but ",
                                            live, " queued or running"));
  }
  return planner_.CheckInvariants();
}

}  // namespace corvid
