// The tokenizer service's Prometheus metrics (all prefixed "corvid_tokenizer_").
#ifndef CORVID_SERVICES_TOKENIZER_SERVICE_METRICS_H_
#define CORVID_SERVICES_TOKENIZER_SERVICE_METRICS_H_

#include <grpcpp/support/status.h>

#include <cstdint>
#include <string>

#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace corvid::tokenizer_service {

enum class Method { kEncode, kDecode, kDetokenizeStream, kCountTokens, kGetInfo, kCount };
const char* MethodName(Method method);

class ServiceMetrics {
 public:
  explicit ServiceMetrics(prometheus::Registry& registry);

  // One finished call: its status and, for unary calls, its latency.
  void RecordCall(Method method, grpc::StatusCode code, double seconds);
  void AddEncodedTokens(int64_t n) { encoded_tokens_->Increment(static_cast<double>(n)); }
  void AddDecodedTokens(int64_t n) { decoded_tokens_->Increment(static_cast<double>(n)); }
  void AddDetokenizedTokens(int64_t n) { detokenized_tokens_->Increment(static_cast<double>(n)); }
  prometheus::Gauge& in_flight() { return *in_flight_; }
  prometheus::Gauge& open_streams() { return *open_streams_; }
  prometheus::Gauge& live_sequences() { return *live_sequences_; }
  prometheus::Gauge& queued() { return *queued_; }
  prometheus::Gauge& models_loaded() { return *models_loaded_; }

 private:
  prometheus::Family<prometheus::Counter>* calls_;
  prometheus::Histogram* latency_[static_cast<int>(Method::kCount)];
  prometheus::Counter* encoded_tokens_;
  prometheus::Counter* decoded_tokens_;
  prometheus::Counter* detokenized_tokens_;
  prometheus::Gauge* in_flight_;
  prometheus::Gauge* open_streams_;
  prometheus::Gauge* live_sequences_;
  prometheus::Gauge* queued_;
  prometheus::Gauge* models_loaded_;
};

}  // namespace corvid::tokenizer_service

#endif  // CORVID_SERVICES_TOKENIZER_SERVICE_METRICS_H_
