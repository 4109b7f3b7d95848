#include "services/common/metrics.h"

#include <httplib.h>

#include <chrono>
#include <thread>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "prometheus/text_serializer.h"
#include "services/common/process_metrics.h"

namespace corvid::service {

std::string MetricName(std::string_view name) {
  if (name.substr(0, 7) == "corvid_") return std::string(name);
  return "corvid_" + std::string(name);
}

prometheus::Family<prometheus::Counter>& AddCounterFamily(prometheus::Registry& registry,
                                                          std::string_view name,
                                                          std::string_view help) {
  return prometheus::BuildCounter()
      .Name(MetricName(name))
      .Help(std::string(help))
      .Register(registry);
}

prometheus::Family<prometheus::Gauge>& AddGaugeFamily(prometheus::Registry& registry,
                                                      std::string_view name,
                                                      std::string_view help) {
  return prometheus::BuildGauge().Name(MetricName(name)).Help(std::string(help)).Register(registry);
}

prometheus::Family<prometheus::Histogram>& AddHistogramFamily(prometheus::Registry& registry,
                                                              std::string_view name,
                                                              std::string_view help) {
  return prometheus::BuildHistogram()
      .Name(MetricName(name))
      .Help(std::string(help))
      .Register(registry);
}

prometheus::Histogram::BucketBoundaries LatencyBuckets() {
  return {50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3,
          50e-3, 100e-3, 250e-3, 500e-3, 1.0,  2.5,    5.0,  10.0};
}

// Served with cpp-httplib rather than prometheus-cpp's civetweb Exposer: civetweb starts its
// threads with a fixed 100 KiB stack, which glibc refuses (EINVAL) once the process's static TLS
// is that large (cuBLAS/cuBLASLt alone take ~110 KiB), so a CUDA worker could not serve /metrics.
struct MetricsServer::Http {
  httplib::Server server;
  std::thread thread;
};

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    const std::string& bind_address, std::shared_ptr<prometheus::Registry> registry) {
  const size_t colon = bind_address.rfind(':');
  int port = -1;
  if (colon == std::string::npos || !absl::SimpleAtoi(bind_address.substr(colon + 1), &port) ||
      port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics endpoint: bad address '", bind_address, "' (want HOST:PORT)"));
  }
  std::string host = bind_address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  std::unique_ptr<MetricsServer> server(new MetricsServer());
  server->registry_ = std::move(registry);
  server->process_metrics_ = MakeProcessMetrics();
  server->http_ = std::make_unique<Http>();
  httplib::Server& http = server->http_->server;
  // One thread is plenty for a scrape every few seconds.
  http.new_task_queue = [] { return new httplib::ThreadPool(1); };
  // SO_REUSEADDR only: httplib's default adds SO_REUSEPORT, which would let a second process
  // bind the same port silently instead of failing.
  http.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  MetricsServer* raw = server.get();
  http.Get("/metrics", [raw](const httplib::Request&, httplib::Response& response) {
    std::vector<prometheus::MetricFamily> families = raw->registry_->Collect();
    for (auto& f : raw->process_metrics_->Collect()) families.push_back(std::move(f));
    response.set_content(prometheus::TextSerializer().Serialize(families),
                         "text/plain; version=0.0.4");
  });
  const int bound = port == 0 ? http.bind_to_any_port(host) : (http.bind_to_port(host, port)
                                                                   ? port
                                                                   : -1);
  if (bound <= 0) {
    return absl::UnavailableError(
        absl::StrCat("metrics endpoint: cannot listen on ", bind_address));
  }
  server->port_ = bound;
  server->http_->thread = std::thread([raw] { raw->http_->server.listen_after_bind(); });
  return server;
}

MetricsServer::~MetricsServer() {
  if (http_ == nullptr) return;
  // stop() only acts once listening has begun on the thread.
  for (int i = 0; i < 1000 && !http_->server.is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  http_->server.stop();
  if (http_->thread.joinable()) http_->thread.join();
}

}  // namespace corvid::service
