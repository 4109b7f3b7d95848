#include "services/loadgen/report.h"

#include <algorithm>
#include <vector>

namespace corvid::loadgen {
namespace {

constexpr double kNsPerMs = 1e6;

double Ms(int64_t ns) { return static_cast<double>(ns) / kNsPerMs; }

// Per-request figures of a successful request that streamed tokens.
struct Timing {
  double ttft_ms = 0;
  double tpot_ms = 0;  // 0 when every token came in the first chunk
};

Timing TimingOf(const RequestRecord& r) {
  Timing t;
  const TokenChunk& first = r.chunks.front();
  t.ttft_ms = Ms(first.time_ns - r.sent_ns);
  const int64_t later_tokens = r.output_tokens() - first.tokens;
  if (later_tokens > 0) {
    t.tpot_ms = Ms(r.chunks.back().time_ns - first.time_ns) / static_cast<double>(later_tokens);
  }
  return t;
}

bool MeetsSlo(const Timing& t, const SloOptions& slo) {
  return (slo.ttft_ms <= 0 || t.ttft_ms <= slo.ttft_ms) &&
         (slo.tpot_ms <= 0 || t.tpot_ms <= slo.tpot_ms);
}

// The samples gathered from the records before they are summarized.
struct Samples {
  std::vector<double> ttft, tpot, itl, e2e, lag, streamed_ttft;
  std::map<std::string, std::vector<double>> error_latencies;
};

// Counts one record in `report` and adds its timings to `samples`.
void Accumulate(const RequestRecord& r, const SloOptions& slo, Report& report, Samples& samples) {
  ++report.sent;
  samples.lag.push_back(Ms(r.sent_ns - r.scheduled_ns));
  report.deadline_ms = std::max(report.deadline_ms, r.deadline_ms);
  for (const TokenChunk& c : r.chunks) report.multi_token_chunks += c.tokens > 1;
  report.chunks += static_cast<int64_t>(r.chunks.size());
  if (!r.chunks.empty()) {
    const double first_ms = Ms(r.chunks.front().time_ns - r.sent_ns);
    samples.streamed_ttft.push_back(first_ms);
    if (r.deadline_ms > 0 && first_ms > r.deadline_ms) ++report.first_token_after_deadline;
  }
  if (r.code != absl::StatusCode::kOk) {
    ++report.failed;
    const std::string name = absl::StatusCodeToString(r.code);
    samples.error_latencies[name].push_back(Ms(r.end_ns - r.sent_ns));
    ErrorSummary& e = report.errors[name];
    if (e.example.empty()) e.example = r.error;
    return;
  }
  ++report.succeeded;
  report.prompt_tokens += r.prompt_tokens;
  report.output_tokens += r.output_tokens();
  samples.e2e.push_back(Ms(r.end_ns - r.sent_ns));
  if (r.chunks.empty()) return;  // OK with no tokens: nothing to time
  const Timing t = TimingOf(r);
  samples.ttft.push_back(t.ttft_ms);
  if (r.output_tokens() > r.chunks.front().tokens) samples.tpot.push_back(t.tpot_ms);
  for (size_t i = 1; i < r.chunks.size(); ++i) {
    samples.itl.push_back(Ms(r.chunks[i].time_ns - r.chunks[i - 1].time_ns));
  }
  report.good += MeetsSlo(t, slo);
}

}  // namespace

Report BuildReport(const RunResult& run, const SloOptions& slo) {
  Report report;
  report.slo = slo;
  Samples samples;
  for (const RequestRecord& r : run.records) Accumulate(r, slo, report, samples);
  report.duration_s = static_cast<double>(run.finished_ns - run.origin_ns) / 1e9;
  if (report.duration_s > 0) {
    report.request_throughput = static_cast<double>(report.succeeded) / report.duration_s;
    report.output_throughput = static_cast<double>(report.output_tokens) / report.duration_s;
    report.goodput = static_cast<double>(report.good) / report.duration_s;
  }
  report.ttft_ms = Summarize(std::move(samples.ttft));
  report.tpot_ms = Summarize(std::move(samples.tpot));
  report.itl_ms = Summarize(std::move(samples.itl));
  report.e2e_ms = Summarize(std::move(samples.e2e));
  report.send_lag_ms = Summarize(std::move(samples.lag));
  report.streamed_ttft_ms = Summarize(std::move(samples.streamed_ttft));
  for (auto& [name, latencies] : samples.error_latencies) {
    ErrorSummary& e = report.errors[name];
    e.count = static_cast<int64_t>(latencies.size());
    e.latency_ms = Summarize(std::move(latencies));
  }
  return report;
}

}  // namespace corvid::loadgen
