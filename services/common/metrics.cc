#include "services/common/metrics.h"

#include <exception>

#include "absl/strings/str_cat.h"
#include "services/common/process_metrics.h"

namespace corvid::service {

std::string MetricName(std::string_view name) {
  if (name.substr(0, 7) == "corvid_") return std::string(name);
  return "corvid_" + std::string(name);
}

prometheus::Family<prometheus::Counter>& AddCounterFamily(prometheus::Registry& registry,
                                                          std::string_view name,
                                                          std::string_view help) {
  return prometheus::BuildCounter().Name(MetricName(name)).Help(std::string(help)).Register(
      registry);
}

prometheus::Family<prometheus::Gauge>& AddGaugeFamily(prometheus::Registry& registry,
                                                      std::string_view name,
                                                      std::string_view help) {
  return prometheus::BuildGauge().Name(MetricName(name)).Help(std::string(help)).Register(
      registry);
}

prometheus::Family<prometheus::Histogram>& AddHistogramFamily(prometheus::Registry& registry,
                                                              std::string_view name,
                                                              std::string_view help) {
  return prometheus::BuildHistogram().Name(MetricName(name)).Help(std::string(help)).Register(
      registry);
}

prometheus::Histogram::BucketBoundaries LatencyBuckets() {
  return {50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3,
          25e-3, 50e-3,  100e-3, 250e-3, 500e-3, 1.0,  2.5,    5.0, 10.0};
}

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    const std::string& bind_address, std::shared_ptr<prometheus::Registry> registry) {
  std::unique_ptr<prometheus::Exposer> exposer;
  try {
    // One civetweb thread is plenty for a scrape every few seconds.
    exposer = std::make_unique<prometheus::Exposer>(bind_address, 1);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("metrics endpoint: cannot listen on ", bind_address, ": ", e.what()));
  }
  std::vector<int> ports = exposer->GetListeningPorts();
  if (ports.empty()) {
    return absl::UnavailableError(absl::StrCat("metrics endpoint: no port bound for ", bind_address));
  }
  std::unique_ptr<MetricsServer> server(new MetricsServer());
  server->registry_ = std::move(registry);
  server->process_metrics_ = MakeProcessMetrics();
  exposer->RegisterCollectable(server->registry_);
  exposer->RegisterCollectable(server->process_metrics_);
  server->exposer_ = std::move(exposer);
  server->port_ = ports.front();
  return server;
}

}  // namespace corvid::service
