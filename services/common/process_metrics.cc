#include "services/common/process_metrics.h"

#include <sys/resource.h>

namespace corvid::service {
namespace {

double Seconds(const timeval& tv) { return tv.tv_sec + tv.tv_usec * 1e-6; }

prometheus::ClientMetric CounterValue(double value, const char* mode) {
  prometheus::ClientMetric m;
  m.label.push_back({"mode", mode});
  m.counter.value = value;
  return m;
}

}  // namespace

std::vector<prometheus::MetricFamily> ProcessMetrics::Collect() const {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  prometheus::MetricFamily cpu;
  cpu.name = "corvid_process_cpu_seconds_total";
  cpu.help = "CPU time of this process (getrusage), by mode";
  cpu.type = prometheus::MetricType::Counter;
  cpu.metric.push_back(CounterValue(Seconds(usage.ru_utime), "user"));
  cpu.metric.push_back(CounterValue(Seconds(usage.ru_stime), "system"));

  prometheus::MetricFamily rss;
  rss.name = "corvid_process_max_rss_bytes";
  rss.help = "Peak resident set size of this process";
  rss.type = prometheus::MetricType::Gauge;
  prometheus::ClientMetric m;
  m.gauge.value = static_cast<double>(usage.ru_maxrss) * 1024.0;  // Linux reports KiB
  rss.metric.push_back(m);
  return {cpu, rss};
}

std::shared_ptr<prometheus::Collectable> MakeProcessMetrics() {
  return std::make_shared<ProcessMetrics>();
}

}  // namespace corvid::service
