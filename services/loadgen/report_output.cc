// FormatReport and ReportToJson (report.h).
#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"
#include "services/loadgen/report.h"

namespace corvid::loadgen {
namespace {

std::string Row(const std::string& name, const Distribution& d) {
  return absl::StrFormat("  %-22s %9.3f %9.3f %9.3f %9.3f %9.3f %8d\n", name, d.mean, d.p50, d.p90,
                         d.p99, d.max, d.count);
}

nlohmann::json DistributionJson(const Distribution& d) {
  return {{"count", d.count}, {"mean", d.mean}, {"min", d.min}, {"p50", d.p50},
          {"p90", d.p90},     {"p99", d.p99},   {"max", d.max}};
}

std::string SloText(const SloOptions& slo) {
  std::string out;
  if (slo.ttft_ms > 0) absl::StrAppendFormat(&out, "TTFT <= %g ms", slo.ttft_ms);
  if (slo.tpot_ms > 0) {
    absl::StrAppendFormat(&out, "%sTPOT <= %g ms", out.empty() ? "" : ", ", slo.tpot_ms);
  }
  return out.empty() ? "none (every successful request counts)" : out;
}

}  // namespace

std::string FormatReport(const Report& r) {
  std::string out;
  if (!r.label.empty()) absl::StrAppendFormat(&out, "run:    %s\n", r.label);
  absl::StrAppendFormat(&out, "target: %s\nload:   %s\n", r.target, r.load);
  absl::StrAppendFormat(&out, "requests: %d sent, %d succeeded, %d failed in %.3f s\n", r.sent,
                        r.succeeded, r.failed, r.duration_s);
  absl::StrAppendFormat(&out, "tokens (succeeded): %d prompt, %d output\n", r.prompt_tokens,
                        r.output_tokens);
  absl::StrAppendFormat(&out, "output throughput: %.1f tokens/s   requests: %.3f /s\n",
                        r.output_throughput, r.request_throughput);
  absl::StrAppendFormat(&out, "goodput: %.3f requests/s (%d good) under SLO %s\n", r.goodput,
                        r.good, SloText(r.slo));
  absl::StrAppendFormat(&out, "  %-22s %9s %9s %9s %9s %9s %8s\n", "ms", "mean", "p50", "p90",
                        "p99", "max", "count");
  out += Row("TTFT", r.ttft_ms);
  out += Row("TPOT", r.tpot_ms);
  out += Row("ITL", r.itl_ms);
  out += Row("E2E latency", r.e2e_ms);
  out += Row("TTFT (all streamed)", r.streamed_ttft_ms);
  out += Row("send lag", r.send_lag_ms);
  for (const auto& [name, e] : r.errors) out += Row(absl::StrCat(name, " latency"), e.latency_ms);
  if (r.deadline_ms > 0) {
    absl::StrAppendFormat(&out,
                          "deadline %.1f ms: %d streamed requests got their first token "
                          "after it\n",
                          r.deadline_ms, r.first_token_after_deadline);
  }
  absl::StrAppendFormat(&out, "token messages: %d, of which %d carried more than one token\n",
                        r.chunks, r.multi_token_chunks);
  absl::StrAppendFormat(&out, "this process's CPU: %.2f s (%.0f%% of one core)\n", r.process_cpu_s,
                        r.duration_s > 0 ? 100 * r.process_cpu_s / r.duration_s : 0.0);
  for (const auto& [name, e] : r.errors) {
    absl::StrAppendFormat(&out, "%s x%d, e.g. \"%s\"\n", name, e.count, e.example);
  }
  return out;
}

nlohmann::json ReportToJson(const Report& r) {
  nlohmann::json errors = nlohmann::json::object();
  for (const auto& [name, e] : r.errors) {
    errors[name] = {
        {"count", e.count}, {"latency_ms", DistributionJson(e.latency_ms)}, {"example", e.example}};
  }
  return {{"label", r.label},
          {"target", r.target},
          {"load", r.load},
          {"sent", r.sent},
          {"succeeded", r.succeeded},
          {"failed", r.failed},
          {"duration_s", r.duration_s},
          {"prompt_tokens", r.prompt_tokens},
          {"output_tokens", r.output_tokens},
          {"request_throughput", r.request_throughput},
          {"output_throughput", r.output_throughput},
          {"slo", {{"ttft_ms", r.slo.ttft_ms}, {"tpot_ms", r.slo.tpot_ms}}},
          {"good", r.good},
          {"goodput", r.goodput},
          {"ttft_ms", DistributionJson(r.ttft_ms)},
          {"tpot_ms", DistributionJson(r.tpot_ms)},
          {"itl_ms", DistributionJson(r.itl_ms)},
          {"e2e_ms", DistributionJson(r.e2e_ms)},
          {"streamed_ttft_ms", DistributionJson(r.streamed_ttft_ms)},
          {"send_lag_ms", DistributionJson(r.send_lag_ms)},
          {"deadline_ms", r.deadline_ms},
          {"first_token_after_deadline", r.first_token_after_deadline},
          {"chunks", r.chunks},
          {"multi_token_chunks", r.multi_token_chunks},
          {"process_cpu_s", r.process_cpu_s},
          {"errors", errors}};
}

}  // namespace corvid::loadgen
