// Order statistics of a sample (latencies in ms, mostly), as the benchmark tables report them.
#ifndef CORVID_SERVICES_LOADGEN_PERCENTILES_H_
#define CORVID_SERVICES_LOADGEN_PERCENTILES_H_

#include <cstdint>
#include <vector>

namespace corvid::loadgen {

// The q-th percentile (q in [0, 100]) of an ascending sample, by linear interpolation between
// the closest ranks (numpy's default "linear" method, which vLLM's `bench serve` reports):
// rank h = (n - 1) q / 100, value = x[floor h] + (h - floor h)(x[floor h + 1] - x[floor h]).
// 0 for an empty sample.
double PercentileOfSorted(const std::vector<double>& sorted, double q);

struct Distribution {
  int64_t count = 0;
  double mean = 0, min = 0, p50 = 0, p90 = 0, p99 = 0, max = 0;
};

// Summarizes `values` (any order; sorted in place). All zero when empty.
Distribution Summarize(std::vector<double> values);

}  // namespace corvid::loadgen

#endif  // CORVID_SERVICES_LOADGEN_PERCENTILES_H_
