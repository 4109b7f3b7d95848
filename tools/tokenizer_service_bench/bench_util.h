// Pieces of corvid-tokenizer-service-bench: synthetic prompts, latency summaries, and the server's
// CPU time read from its /metrics (corvid_process_cpu_seconds_total, i.e. getrusage of the server).
#ifndef CORVID_TOOLS_TOKENIZER_SERVICE_BENCH_BENCH_UTIL_H_
#define CORVID_TOOLS_TOKENIZER_SERVICE_BENCH_BENCH_UTIL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace corvid::bench {

// `count` prompts of exactly `bytes` bytes of English-like text (seeded, so runs compare), with
// a sprinkling of digits, punctuation and non-ASCII letters. Its small vocabulary flatters
// tokenizers that cache words: prefer CorpusPrompts with real text.
std::vector<std::string> MakePrompts(int count, int bytes, uint32_t seed);

// `count` windows of `bytes` bytes (cut on character boundaries) at seeded random offsets of the
// concatenated `files`. NOT_FOUND for an unreadable file, INVALID_ARGUMENT when the text is
// shorter than one window or not UTF-8.
absl::StatusOr<std::vector<std::string>> CorpusPrompts(const std::vector<std::string>& files,
                                                       int count, int bytes, uint32_t seed);

struct LatencySummary {
  double p50_ms = 0, p90_ms = 0, p99_ms = 0, max_ms = 0;
};
LatencySummary Summarize(std::vector<double> seconds);

// Server CPU seconds (user + system) scraped from http://<metrics_address>/metrics.
absl::StatusOr<double> ScrapeServerCpuSeconds(const std::string& metrics_address);

}  // namespace corvid::bench

#endif  // CORVID_TOOLS_TOKENIZER_SERVICE_BENCH_BENCH_UTIL_H_
