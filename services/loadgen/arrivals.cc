#include "services/loadgen/arrivals.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace corvid::loadgen {
namespace {

absl::Status BadSpec(const std::string& spec) {
  return absl::InvalidArgumentError(
      absl::StrCat("--arrival=", spec,
                   ": expected poisson, gamma:SHAPE (SHAPE > 0), onoff:ON_S:OFF_S "
                   "(ON_S > 0, OFF_S >= 0) or burst:N (N >= 1)"));
}

bool ParsePositive(absl::string_view s, double* out, bool allow_zero) {
  return absl::SimpleAtod(s, out) && std::isfinite(*out) && (allow_zero ? *out >= 0 : *out > 0);
}

}  // namespace

absl::StatusOr<ArrivalOptions> ParseArrivals(const std::string& spec, double rate, uint64_t seed) {
  if (!(rate > 0)) {
    return absl::InvalidArgumentError(absl::StrCat("--rate=", rate, ": must be > 0"));
  }
  ArrivalOptions o;
  o.rate = rate;
  o.seed = seed;
  std::vector<absl::string_view> parts = absl::StrSplit(spec, ':');
  if (parts[0] == "poisson" && parts.size() == 1) {
    o.kind = ArrivalKind::kPoisson;
  } else if (parts[0] == "gamma" && parts.size() == 2) {
    o.kind = ArrivalKind::kGamma;
    if (!ParsePositive(parts[1], &o.burstiness, false)) return BadSpec(spec);
  } else if (parts[0] == "onoff" && parts.size() == 3) {
    o.kind = ArrivalKind::kOnOff;
    if (!ParsePositive(parts[1], &o.on_s, false) || !ParsePositive(parts[2], &o.off_s, true)) {
      return BadSpec(spec);
    }
  } else if (parts[0] == "burst" && parts.size() == 2) {
    o.kind = ArrivalKind::kBurst;
    if (!absl::SimpleAtoi(parts[1], &o.burst_size) || o.burst_size < 1) return BadSpec(spec);
  } else {
    return BadSpec(spec);
  }
  if (std::isinf(rate) && o.kind != ArrivalKind::kPoisson) {
    return absl::InvalidArgumentError(
        absl::StrCat("--rate=inf (every request at once) takes no --arrival=", spec));
  }
  return o;
}

std::vector<double> ArrivalOffsets(const ArrivalOptions& options, int64_t max_count,
                                   double max_seconds) {
  std::vector<double> out;
  if (max_count < 0 && max_seconds <= 0) return out;  // unbounded: refuse rather than hang
  if (std::isinf(options.rate)) {  // a backlog: everything at the start (needs a count)
    return std::vector<double>(static_cast<size_t>(std::max<int64_t>(max_count, 0)), 0.0);
  }
  std::mt19937_64 rng(options.seed);
  double rate = options.rate;
  if (options.kind == ArrivalKind::kOnOff) rate *= (options.on_s + options.off_s) / options.on_s;
  const int64_t group = options.kind == ArrivalKind::kBurst ? options.burst_size : 1;
  rate /= static_cast<double>(group);
  std::exponential_distribution<double> exponential(rate);
  // Gamma(k, theta) has mean k * theta: theta = 1 / (rate * k) keeps the mean gap at 1 / rate.
  std::gamma_distribution<double> gamma(options.burstiness, 1.0 / (rate * options.burstiness));
  double clock = 0;  // kOnOff: time counted inside on-windows only
  while (max_count < 0 || static_cast<int64_t>(out.size()) < max_count) {
    clock += options.kind == ArrivalKind::kGamma ? gamma(rng) : exponential(rng);
    double t = clock;
    if (options.kind == ArrivalKind::kOnOff) {
      // Every full on-window already used is followed by one off-window of silence.
      t += std::floor(clock / options.on_s) * options.off_s;
    }
    if (max_seconds > 0 && t >= max_seconds) break;
    for (int64_t i = 0; i < group; ++i) {
      if (max_count >= 0 && static_cast<int64_t>(out.size()) >= max_count) break;
      out.push_back(t);
    }
  }
  return out;
}

}  // namespace corvid::loadgen
