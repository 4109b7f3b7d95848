// Process-level metrics from getrusage(RUSAGE_SELF), computed at scrape time:
//   corvid_process_cpu_seconds_total{mode="user"|"system"}, corvid_process_max_rss_bytes.
// Benchmarks read CPU cost per unit of work from these (the difference of two scrapes).
#ifndef CORVID_SERVICES_COMMON_PROCESS_METRICS_H_
#define CORVID_SERVICES_COMMON_PROCESS_METRICS_H_

#include <memory>
#include <vector>

#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"

namespace corvid::service {

class ProcessMetrics : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override;
};

std::shared_ptr<prometheus::Collectable> MakeProcessMetrics();

}  // namespace corvid::service

#endif  // CORVID_SERVICES_COMMON_PROCESS_METRICS_H_
