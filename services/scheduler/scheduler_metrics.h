// The scheduler's Prometheus metrics (prefix "corvid_scheduler_"): request outcomes by gRPC
// code, rejections by reason, TTFT / inter-token / queue / end-to-end latency histograms, token
// counters, queue depth, running requests, live workers.
#ifndef CORVID_SERVICES_SCHEDULER_SCHEDULER_METRICS_H_
#define CORVID_SERVICES_SCHEDULER_SCHEDULER_METRICS_H_

#include <grpcpp/support/status_code_enum.h>

#include <string>

#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace corvid::scheduler {

class SchedulerMetrics {
 public:
  explicit SchedulerMetrics(prometheus::Registry& registry);

  // One request ended with `code` (OK included).
  void RequestDone(grpc::StatusCode code);
  // A request refused before it was queued; `reason`: queue_full, deadline, no_worker,
  // invalid, draining, tokenizer, ...
  void Rejected(const std::string& reason);
  // A refusal's latency, from the call's arrival at the handler to its status being handed
  // to gRPC; `decided_on`: "edge" (the handler's or tokenizer callback's thread) or "core".
  void ObserveRejection(double seconds, const char* decided_on);
  void ObserveTtft(double seconds) { ttft_->Observe(seconds); }
  void ObserveItl(double seconds) { itl_->Observe(seconds); }
  void ObserveQueueTime(double seconds) { queue_time_->Observe(seconds); }
  void ObserveE2e(double seconds) { e2e_->Observe(seconds); }
  void AddPromptTokens(double n) { prompt_tokens_->Increment(n); }
  void AddGeneratedTokens(double n) { generated_tokens_->Increment(n); }
  void Retried() { retried_->Increment(); }
  // Requests routed to a worker for a remembered prompt-prefix match, and the matched tokens.
  void AffinityRouted(double requests, double tokens) {
    affinity_routed_->Increment(requests);
    affinity_matched_tokens_->Increment(tokens);
  }
  void SetQueueDepth(double n) { queue_depth_->Set(n); }
  void SetRunning(double n) { running_->Set(n); }
  void SetLiveWorkers(double n) { live_workers_->Set(n); }
  void SetDetokStreams(double n) { detok_streams_->Set(n); }

 private:
  prometheus::Family<prometheus::Counter>* requests_;
  prometheus::Family<prometheus::Counter>* rejections_;
  prometheus::Histogram* rejection_edge_;
  prometheus::Histogram* rejection_core_;
  prometheus::Histogram* ttft_;
  prometheus::Histogram* itl_;
  prometheus::Histogram* queue_time_;
  prometheus::Histogram* e2e_;
  prometheus::Counter* prompt_tokens_;
  prometheus::Counter* generated_tokens_;
  prometheus::Counter* retried_;
  prometheus::Counter* affinity_routed_;
  prometheus::Counter* affinity_matched_tokens_;
  prometheus::Gauge* queue_depth_;
  prometheus::Gauge* running_;
  prometheus::Gauge* live_workers_;
  prometheus::Gauge* detok_streams_;
};

}  // namespace corvid::scheduler

#endif  // CORVID_SERVICES_SCHEDULER_SCHEDULER_METRICS_H_
