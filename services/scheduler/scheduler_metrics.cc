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

}  // namespace

SchedulerMetrics::SchedulerMetrics(prometheus::Registry& r)
    : requests_(&service::AddCounterFamily(r, "scheduler_requests_total",
                                           "Generate calls ended, by gRPC status code")),
      rejections_(&service::AddCounterFamily(
          r, "scheduler_rejections_total", "requests refused before queueing, by reason")),
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
                          .Add({})) {}

void SchedulerMetrics::RequestDone(grpc::StatusCode code) {
  requests_->Add({{"code", CodeName(code)}}).Increment();
}

void SchedulerMetrics::Rejected(const std::string& reason) {
  rejections_->Add({{"reason", reason}}).Increment();
}

}  // namespace corvid::scheduler
