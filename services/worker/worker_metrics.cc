#include "services/worker/worker_metrics.h"

#include "services/common/metrics.h"

namespace corvid::worker {
namespace {

prometheus::Gauge* Gauge(prometheus::Registry& r, const char* name, const char* help) {
  return &service::AddGaugeFamily(r, name, help).Add({});
}

prometheus::Counter* Counter(prometheus::Registry& r, const char* name, const char* help) {
  return &service::AddCounterFamily(r, name, help).Add({});
}

void Advance(prometheus::Counter* c, uint64_t now, uint64_t before) {
  if (now > before) c->Increment(static_cast<double>(now - before));
}

}  // namespace

WorkerMetrics::WorkerMetrics(prometheus::Registry& r)
    : queue_depth_(Gauge(r, "worker_queue_depth",
                         "requests admitted but not yet in the engine's running batch")),
      running_(Gauge(r, "worker_running_requests", "requests in the engine's running batch")),
      live_(Gauge(r, "worker_live_requests", "requests admitted and not finished")),
      kv_total_(Gauge(r, "worker_kv_blocks_total", "KV cache blocks")),
      kv_free_(Gauge(r, "worker_kv_blocks_free", "KV cache blocks holding no token")),
      kv_reserved_(Gauge(r, "worker_kv_blocks_reserved",
                         "KV cache blocks reserved by live requests (admission credit used)")),
      kv_cached_(Gauge(r, "worker_kv_blocks_cached",
                       "KV cache blocks holding reusable prefix KV (in use or evictable)")),
      kv_utilization_(Gauge(r, "worker_kv_utilization", "fraction of KV blocks holding tokens")),
      block_size_(Gauge(r, "worker_kv_block_size_tokens", "tokens per KV block")),
      sessions_(Gauge(r, "worker_sessions", "open scheduler sessions")),
      draining_(Gauge(r, "worker_draining", "1 while draining")),
      engine_alive_(Gauge(r, "worker_engine_alive", "0 once the engine failed")),
      avg_step_ms_(Gauge(r, "worker_step_time_avg_ms", "moving average of the step time")),
      tokens_in_(Counter(r, "worker_prompt_tokens_total", "prompt tokens admitted (tokens in)")),
      tokens_out_(Counter(r, "worker_generated_tokens_total", "tokens generated (tokens out)")),
      steps_(Counter(r, "worker_steps_total", "engine steps run")),
      admitted_(Counter(r, "worker_admitted_total", "admissions accepted")),
      refused_(Counter(r, "worker_refused_total", "admissions refused")),
      cancelled_(Counter(r, "worker_cancelled_total", "requests cancelled")),
      finished_(Counter(r, "worker_finished_total", "requests finished (length or stop)")),
      failed_(Counter(r, "worker_failed_total", "requests failed by the engine")),
      step_seconds_(&service::AddHistogramFamily(r, "worker_step_seconds",
                                                 "wall time of one engine step")
                         .Add({}, service::LatencyBuckets())),
      prefill_tokens_(Counter(r, "worker_prefill_tokens_total", "prompt tokens computed")),
      decode_tokens_(Counter(r, "worker_decode_tokens_total", "decode tokens computed")),
      prefix_queried_tokens_(Counter(r, "worker_prefix_cache_queried_tokens_total",
                                     "tokens of admitted sequences looked up in the prefix cache")),
      prefix_hit_tokens_(Counter(r, "worker_prefix_cache_hit_tokens_total",
                                 "of those, tokens whose KV was found cached (not computed)")) {}

void WorkerMetrics::Update(const WorkerStats& s) {
  queue_depth_->Set(s.waiting + s.inbox);
  running_->Set(s.running);
  live_->Set(s.live_requests);
  kv_total_->Set(s.total_blocks);
  kv_free_->Set(s.free_blocks);
  kv_reserved_->Set(s.reserved_blocks);
  kv_cached_->Set(s.cached_blocks);
  kv_utilization_->Set(s.total_blocks > 0
                           ? 1.0 - static_cast<double>(s.free_blocks) / s.total_blocks
                           : 0.0);
  block_size_->Set(s.block_size);
  sessions_->Set(s.sessions);
  draining_->Set(s.draining ? 1 : 0);
  engine_alive_->Set(s.engine_alive ? 1 : 0);
  avg_step_ms_->Set(s.step_ms.value);
  absl::MutexLock lock(&mu_);
  Advance(tokens_in_, s.prompt_tokens, last_.prompt_tokens);
  Advance(tokens_out_, s.generated_tokens, last_.generated_tokens);
  Advance(steps_, s.steps, last_.steps);
  Advance(admitted_, s.admitted, last_.admitted);
  Advance(refused_, s.refused, last_.refused);
  Advance(cancelled_, s.cancelled, last_.cancelled);
  Advance(finished_, s.finished, last_.finished);
  Advance(failed_, s.failed, last_.failed);
  last_ = s;
}

void WorkerMetrics::ObserveStep(double step_ms, const StepStats& step) {
  step_seconds_->Observe(step_ms / 1000.0);
  prefill_tokens_->Increment(step.num_prefill_tokens);
  decode_tokens_->Increment(step.num_decode_tokens);
  prefix_queried_tokens_->Increment(step.num_prefix_queried_tokens);
  prefix_hit_tokens_->Increment(step.num_prefix_hit_tokens);
}

}  // namespace corvid::worker
