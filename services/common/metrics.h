// Prometheus metrics: a registry per process and a pull endpoint (`GET /metrics`) served by
// cpp-httplib (see metrics.cc for why not civetweb). Every corvid metric name starts with "corvid_".
#ifndef CORVID_SERVICES_COMMON_METRICS_H_
#define CORVID_SERVICES_COMMON_METRICS_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace corvid::service {

// "corvid_" + name, unless name already has the prefix.
std::string MetricName(std::string_view name);

prometheus::Family<prometheus::Counter>& AddCounterFamily(prometheus::Registry& registry,
                                                          std::string_view name,
                                                          std::string_view help);
prometheus::Family<prometheus::Gauge>& AddGaugeFamily(prometheus::Registry& registry,
                                                      std::string_view name, std::string_view help);
prometheus::Family<prometheus::Histogram>& AddHistogramFamily(prometheus::Registry& registry,
                                                              std::string_view name,
                                                              std::string_view help);

// Latency buckets in seconds, 50 us .. 10 s, roughly x2.5 apart.
prometheus::Histogram::BucketBoundaries LatencyBuckets();

class MetricsServer {
 public:
  // Serves `registry`, plus the process metrics (process_metrics.h), at
  // http://<bind_address>/metrics. bind_address is "HOST:PORT"; port 0 picks
  // a free one (see port()). UNAVAILABLE when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(
      const std::string& bind_address, std::shared_ptr<prometheus::Registry> registry);

  int port() const { return port_; }
  ~MetricsServer();  // stops serving

 private:
  // The HTTP server (cpp-httplib) and its thread, kept out of this header.
  struct Http;
  MetricsServer() = default;

  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<prometheus::Collectable> process_metrics_;
  std::unique_ptr<Http> http_;
  int port_ = 0;
};

}  // namespace corvid::service

#endif  // CORVID_SERVICES_COMMON_METRICS_H_
