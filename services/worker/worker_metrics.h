// The worker's Prometheus metrics (prefix "corvid_worker_"): queue depth, running requests, KV
// utilization and geometry, tokens in/out, step time, request outcomes.
#ifndef CORVID_SERVICES_WORKER_WORKER_METRICS_H_
#define CORVID_SERVICES_WORKER_WORKER_METRICS_H_

#include "absl/synchronization/mutex.h"
#include "engine/engine.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "services/worker/worker_stats.h"

namespace corvid::worker {

class WorkerMetrics {
 public:
  explicit WorkerMetrics(prometheus::Registry& registry);

  // Sets the gauges and advances the counters to `stats`. Called from one thread (the
  // server's monitor), with snapshots in time order.
  void Update(const WorkerStats& stats);
  // One engine step (called on the engine thread).
  void ObserveStep(double step_ms, const StepStats& step);

 private:
  prometheus::Gauge* queue_depth_;
  prometheus::Gauge* running_;
  prometheus::Gauge* live_;
  prometheus::Gauge* kv_total_;
  prometheus::Gauge* kv_free_;
  prometheus::Gauge* kv_reserved_;
  prometheus::Gauge* kv_cached_;
  prometheus::Gauge* kv_utilization_;
  prometheus::Gauge* block_size_;
  prometheus::Gauge* sessions_;
  prometheus::Gauge* draining_;
  prometheus::Gauge* engine_alive_;
  prometheus::Gauge* avg_step_ms_;
  prometheus::Counter* tokens_in_;
  prometheus::Counter* tokens_out_;
  prometheus::Counter* steps_;
  prometheus::Counter* admitted_;
  prometheus::Counter* refused_;
  prometheus::Counter* cancelled_;
  prometheus::Counter* finished_;
  prometheus::Counter* failed_;
  prometheus::Histogram* step_seconds_;
  prometheus::Counter* prefill_tokens_;
  prometheus::Counter* decode_tokens_;
  prometheus::Counter* prefix_queried_tokens_;
  prometheus::Counter* prefix_hit_tokens_;

  absl::Mutex mu_;
  WorkerStats last_ ABSL_GUARDED_BY(mu_);
};

}  // namespace corvid::worker

#endif  // CORVID_SERVICES_WORKER_WORKER_METRICS_H_
