// Open-loop arrival processes: when each request of a run is sent, fixed before the run starts
// (so a slow server cannot slow the arrivals down, which is what makes the load open-loop).
#ifndef CORVID_SERVICES_LOADGEN_ARRIVALS_H_
#define CORVID_SERVICES_LOADGEN_ARRIVALS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace corvid::loadgen {

enum class ArrivalKind {
  kPoisson,  // exponential gaps of mean 1/rate
  kGamma,    // gamma gaps of mean 1/rate and shape `burstiness` (1 = Poisson, < 1 burstier)
  kOnOff,    // Poisson during `on_s` windows separated by silent `off_s` windows; the rate in
             // the windows is rate * (on_s + off_s) / on_s so the long-run mean is `rate`
  kBurst,    // groups of `burst_size` requests sent at once, groups Poisson at rate / burst_size
};

struct ArrivalOptions {
  ArrivalKind kind = ArrivalKind::kPoisson;
  double rate = 1;        // mean requests per second
  double burstiness = 1;  // kGamma's shape
  double on_s = 1, off_s = 1;
  int burst_size = 1;  // kBurst
  uint64_t seed = 0;
};

// Parses --arrival: "poisson", "gamma:SHAPE", "onoff:ON_S:OFF_S" or "burst:N"; `rate` and
// `seed` are copied in. An infinite rate (poisson only) sends every request at once.
// INVALID_ARGUMENT naming --arrival or --rate.
absl::StatusOr<ArrivalOptions> ParseArrivals(const std::string& spec, double rate, uint64_t seed);

// Send offsets in seconds from the run's start, ascending: at most `max_count` of them
// (< 0 = no limit) and none at or after `max_seconds` (<= 0 = no limit). One bound is needed;
// an infinite rate gives `max_count` zeros (none without a count).
std::vector<double> ArrivalOffsets(const ArrivalOptions& options, int64_t max_count,
                                   double max_seconds);

}  // namespace corvid::loadgen

#endif  // CORVID_SERVICES_LOADGEN_ARRIVALS_H_
