// Pieces of corvid-tokenizer-service-bench: synthetic prompts, latency summaries, and the server's CPU
// time read from its /metrics (corvid_process_cpu_seconds_total, i.e. getrusage of the server).
#ifndef CORVID_TOOLS_TOKENIZER_SERVICE_BENCH_BENCH_UTIL_H_
#define CORVID_TOOLS_TOKENIZER_SERVICE_BENCH_BENCH_UTIL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace corvid::bench {

// `count` prompts of exactly `bytes` bytes of English-like text (seeded, so runs compare), with
// a sprinkling of digits, punctuation and non-ASCII letters as real prompts have.
std::vector<std::string> MakePrompts(int count, int bytes, uint32_t seed);

struct LatencySummary {
  double p50_ms = 0, p90_ms = 0, p99_ms = 0, max_ms = 0;
};
LatencySummary Summarize(std::vector<double> seconds);

// Server CPU seconds (user + system) scraped from http://<metrics_address>/metrics.
absl::StatusOr<double> ScrapeServerCpuSeconds(const std::string& metrics_address);

}  // namespace corvid::bench

#endif  // CORVID_TOOLS_TOKENIZER_SERVICE_BENCH_BENCH_UTIL_H_
