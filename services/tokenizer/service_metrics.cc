#include "services/tokenizer/service_metrics.h"

#include "services/common/metrics.h"

namespace corvid::tokenizer_service {
namespace {

const char* CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    default:
      return "OTHER";
  }
}

}  // namespace

const char* MethodName(Method method) {
  switch (method) {
    case Method::kEncode:
      return "Encode";
    case Method::kDecode:
      return "Decode";
    case Method::kDetokenizeStream:
      return "DetokenizeStream";
    case Method::kCountTokens:
      return "CountTokens";
    case Method::kGetInfo:
      return "GetInfo";
    case Method::kCount:
      break;
  }
  return "?";
}

ServiceMetrics::ServiceMetrics(prometheus::Registry& registry) {
  using service::AddCounterFamily;
  using service::AddGaugeFamily;
  calls_ = &AddCounterFamily(registry, "tokenizer_calls_total",
                             "Finished calls by method and gRPC status code");
  auto& latency = service::AddHistogramFamily(registry, "tokenizer_call_seconds",
                                              "Unary call latency, admission to reply, by method");
  for (int m = 0; m < static_cast<int>(Method::kCount); ++m) {
    latency_[m] =
        &latency.Add({{"method", MethodName(static_cast<Method>(m))}}, service::LatencyBuckets());
  }
  auto& tokens = AddCounterFamily(registry, "tokenizer_tokens_total",
                                  "Token ids produced (encode) or consumed (decode, detokenize)");
  encoded_tokens_ = &tokens.Add({{"op", "encode"}});
  decoded_tokens_ = &tokens.Add({{"op", "decode"}});
  detokenized_tokens_ = &tokens.Add({{"op", "detokenize"}});
  in_flight_ =
      &AddGaugeFamily(registry, "tokenizer_in_flight_calls", "Admitted calls not yet done").Add({});
  open_streams_ =
      &AddGaugeFamily(registry, "tokenizer_detokenize_streams", "Open DetokenizeStream calls")
           .Add({});
  live_sequences_ = &AddGaugeFamily(registry, "tokenizer_detokenize_sequences",
                                    "Sequences live on DetokenizeStream calls")
                         .Add({});
  queued_ =
      &AddGaugeFamily(registry, "tokenizer_queued_calls", "Unary calls waiting for a worker thread")
           .Add({});
  models_loaded_ =
      &AddGaugeFamily(registry, "tokenizer_models_loaded", "Tokenizers loaded and served").Add({});
}

void ServiceMetrics::RecordCall(Method method, grpc::StatusCode code, double seconds) {
  calls_->Add({{"method", MethodName(method)}, {"code", CodeName(code)}}).Increment();
  if (method != Method::kDetokenizeStream) latency_[static_cast<int>(method)]->Observe(seconds);
}

}  // namespace corvid::tokenizer_service
