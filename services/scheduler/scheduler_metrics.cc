#include "services/scheduler/scheduler_metrics.h"

#include "services/common/metrics.h"

namespace corvid::scheduler {
namespace {

const char* CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return "OK";
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::StatusCode::INTERNAL: return "INTERNAL";
    default: return "OTHER";
  }
}

prometheus::Histogram* Histogram(prometheus::Registry& r, const char* name, const char* help) {
  return &service::AddHistogramFamily(r, name, help).Add({}, service::LatencyBuckets());
}

// Finer than the latency buckets around the few milliseconds a refusal is promised in.
prometheus::Histogram::BucketBoundaries RejectionBuckets() {
  return {50e-6, 100e-6, 250e-6, 500e-6, 1e-3,  1.5e-3, 2e-3, 3e-3, 4e-3,
          5e-3,  7.5e-3, 10e-3,  15e-3,  25e-3, 50e-3,  0.1,  0.25, 1.0};
}

}  // namespace

SchedulerMetrics::SchedulerMetrics(prometheus::Registry& r)
    : requests_(&service::AddCounterFamily(r, "scheduler_requests_total",
                                           "Generate calls ended, by gRPC status code")),
      rejections_(&service::AddCounterFamily(
          r, "scheduler_rejections_total", "requests refused before queueing, by reason")),
      rejection_edge_(nullptr),
      rejection_core_(nullptr),
      ttft_(Histogram(r, "scheduler_time_to_first_token_seconds",
                      "arrival to the first generated token leaving the scheduler")),
      itl_(Histogram(r, "scheduler_inter_token_latency_seconds",
                     "time between consecutive generated tokens of a request")),
      queue_time_(Histogram(r, "scheduler_queue_time_seconds", "arrival to worker admission")),
      e2e_(Histogram(r, "scheduler_request_duration_seconds", "arrival to the final message")),
      prompt_tokens_(&service::AddCounterFamily(r, "scheduler_prompt_tokens_total",
                                                "prompt tokens of admitted requests")
                          .Add({})),
      generated_tokens_(&service::AddCounterFamily(r, "scheduler_generated_tokens_total",
                                                   "tokens streamed to clients")
                             .Add({})),
      retried_(&service::AddCounterFamily(
                    r, "scheduler_retried_total",
                    "requests put back in the queue after a worker refused them or died")
                    .Add({})),
      affinity_routed_(&service::AddCounterFamily(
                            r, "scheduler_prefix_affinity_routed_total",
                            "requests sent to a worker for a remembered prompt-prefix match")
                            .Add({})),
      affinity_matched_tokens_(&service::AddCounterFamily(
                                    r, "scheduler_prefix_affinity_matched_tokens_total",
                                    "prompt tokens of those matches")
                                    .Add({})),
      queue_depth_(&service::AddGaugeFamily(r, "scheduler_queue_depth", "requests queued")
                        .Add({})),
      running_(&service::AddGaugeFamily(r, "scheduler_running_requests",
                                        "requests admitted to workers")
                    .Add({})),
      live_workers_(&service::AddGaugeFamily(r, "scheduler_live_workers",
                                             "workers with a live session")
                         .Add({})),
      detok_streams_(&service::AddGaugeFamily(r, "scheduler_detokenize_streams",
                                              "open DetokenizeStreams to the tokenizer tier")
                          .Add({})) {
  auto& rejection = service::AddHistogramFamily(
      r, "scheduler_rejection_latency_seconds",
      "arrival of a refused call to its status handed to gRPC, by the thread that decided");
  rejection_edge_ = &rejection.Add({{"decided_on", "edge"}}, RejectionBuckets());
  rejection_core_ = &rejection.Add({{"decided_on", "core"}}, RejectionBuckets());
}

void SchedulerMetrics::ObserveRejection(double seconds, const char* decided_on) {
  (std::string(decided_on) == "core" ? rejection_core_ : rejection_edge_)->Observe(seconds);
}

void SchedulerMetrics::RequestDone(grpc::StatusCode code) {
  requests_->Add({{"code", CodeName(code)}}).Increment();
}

void SchedulerMetrics::Rejected(const std::string& reason) {
  rejections_->Add({{"reason", reason}}).Increment();
}

}  // namespace corvid::scheduler
