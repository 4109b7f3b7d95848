// Per-request measurements and the summary corvid-loadgen reports (as vLLM's `bench serve`
// does): TTFT, TPOT, ITL and end-to-end percentiles, throughput, goodput under an SLO, and
// rejections by gRPC code with their latency.
#ifndef CORVID_SERVICES_LOADGEN_STATS_H_
#define CORVID_SERVICES_LOADGEN_STATS_H_

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"

namespace corvid::loadgen {

struct RequestRecord {
  absl::Time sent;
  absl::Time end;
  // One entry per message that carried tokens: when it arrived and how many tokens it held.
  std::vector<std::pair<absl::Time, int>> chunks;
  int prompt_tokens = 0;
  int output_tokens = 0;
  std::string code = "OK";  // gRPC status code name
  std::string error;
};

struct Slo {
  double ttft_ms = 0;  // 0 = no bound
  double tpot_ms = 0;
};

struct Percentiles {
  double mean = 0, p50 = 0, p90 = 0, p99 = 0, max = 0;
  int count = 0;
};
Percentiles Summarize(std::vector<double> values);

struct Summary {
  double duration_s = 0;
  int requests = 0;
  int completed = 0;
  std::map<std::string, int> errors_by_code;  // RESOURCE_EXHAUSTED, UNAVAILABLE, ...
  double output_tokens_per_s = 0;
  double requests_per_s = 0;
  double goodput_requests_per_s = 0;  // completed within the SLO, per second
  int64_t output_tokens = 0;
  int64_t prompt_tokens = 0;
  Percentiles ttft_ms, tpot_ms, itl_ms, e2e_ms, rejection_ms;
};

Summary Summarize(const std::vector<RequestRecord>& records, const Slo& slo);
std::string ToJson(const Summary& s, const std::string& label);
std::string ToText(const Summary& s, const std::string& label);

}  // namespace corvid::loadgen

#endif  // CORVID_SERVICES_LOADGEN_STATS_H_
