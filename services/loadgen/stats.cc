#include "services/loadgen/stats.h"

#include <algorithm>
#include <numeric>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace corvid::loadgen {
namespace {

double Ms(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }

nlohmann::json ToJson(const Percentiles& p) {
  return {{"mean", p.mean}, {"p50", p.p50}, {"p90", p.p90}, {"p99", p.p99}, {"max", p.max},
          {"count", p.count}};
}

std::string Line(const char* name, const Percentiles& p) {
  return absl::StrFormat("  %-14s mean %8.3f  p50 %8.3f  p90 %8.3f  p99 %8.3f  max %8.3f  (n=%d)\n",
                         name, p.mean, p.p50, p.p90, p.p99, p.max, p.count);
}

}  // namespace

Percentiles Summarize(std::vector<double> v) {
  Percentiles p;
  p.count = static_cast<int>(v.size());
  if (v.empty()) return p;
  std::sort(v.begin(), v.end());
  auto at = [&](double q) {
    const size_t i = std::min(v.size() - 1, static_cast<size_t>(q * (v.size() - 1) + 0.5));
    return v[i];
  };
  p.mean = std::accumulate(v.begin(), v.end(), 0.0) / v.size();
  p.p50 = at(0.5);
  p.p90 = at(0.9);
  p.p99 = at(0.99);
  p.max = v.back();
  return p;
}

Summary Summarize(const std::vector<RequestRecord>& records, const Slo& slo) {
  Summary s;
  s.requests = static_cast<int>(records.size());
  absl::Time first = absl::InfiniteFuture(), last = absl::InfinitePast();
  std::vector<double> ttft, tpot, itl, e2e, rejection;
  int good = 0;
  for (const RequestRecord& r : records) {
    first = std::min(first, r.sent);
    last = std::max(last, r.end);
    if (r.code != "OK") {
      ++s.errors_by_code[r.code];
      rejection.push_back(Ms(r.end - r.sent));
      continue;
    }
    ++s.completed;
    s.output_tokens += r.output_tokens;
    s.prompt_tokens += r.prompt_tokens;
    e2e.push_back(Ms(r.end - r.sent));
    if (r.chunks.empty()) continue;
    const double t = Ms(r.chunks.front().first - r.sent);
    ttft.push_back(t);
    double per_token = 0;
    if (r.output_tokens > 1) {
      per_token = Ms(r.chunks.back().first - r.chunks.front().first) / (r.output_tokens - 1);
      tpot.push_back(per_token);
    }
    for (size_t i = 1; i < r.chunks.size(); ++i) {
      const double gap = Ms(r.chunks[i].first - r.chunks[i - 1].first) / r.chunks[i].second;
      for (int k = 0; k < r.chunks[i].second; ++k) itl.push_back(gap);
    }
    if ((slo.ttft_ms <= 0 || t <= slo.ttft_ms) && (slo.tpot_ms <= 0 || per_token <= slo.tpot_ms)) {
      ++good;
    }
  }
  s.duration_s = last > first ? absl::ToDoubleSeconds(last - first) : 0;
  if (s.duration_s > 0) {
    s.output_tokens_per_s = s.output_tokens / s.duration_s;
    s.requests_per_s = s.completed / s.duration_s;
    s.goodput_requests_per_s = good / s.duration_s;
  }
  s.ttft_ms = Summarize(std::move(ttft));
  s.tpot_ms = Summarize(std::move(tpot));
  s.itl_ms = Summarize(std::move(itl));
  s.e2e_ms = Summarize(std::move(e2e));
  s.rejection_ms = Summarize(std::move(rejection));
  return s;
}

std::string ToJson(const Summary& s, const std::string& label) {
  nlohmann::json j = {{"label", label},
                      {"duration_s", s.duration_s},
                      {"requests", s.requests},
                      {"completed", s.completed},
                      {"errors_by_code", s.errors_by_code},
                      {"output_tokens", s.output_tokens},
                      {"prompt_tokens", s.prompt_tokens},
                      {"output_tokens_per_s", s.output_tokens_per_s},
                      {"requests_per_s", s.requests_per_s},
                      {"goodput_requests_per_s", s.goodput_requests_per_s},
                      {"ttft_ms", ToJson(s.ttft_ms)},
                      {"tpot_ms", ToJson(s.tpot_ms)},
                      {"itl_ms", ToJson(s.itl_ms)},
                      {"e2e_ms", ToJson(s.e2e_ms)},
                      {"rejection_ms", ToJson(s.rejection_ms)}};
  return j.dump(2);
}

std::string ToText(const Summary& s, const std::string& label) {
  std::string out = absl::StrFormat(
      "== %s: %d requests, %d completed in %.3f s\n"
      "  throughput     %.1f output tokens/s, %.2f requests/s, goodput %.2f requests/s\n",
      label, s.requests, s.completed, s.duration_s, s.output_tokens_per_s, s.requests_per_s,
      s.goodput_requests_per_s);
  for (const auto& [code, n] : s.errors_by_code) absl::StrAppend(&out, "  errors ", code, ": ", n, "\n");
  absl::StrAppend(&out, Line("TTFT ms", s.ttft_ms), Line("TPOT ms", s.tpot_ms),
                  Line("ITL ms", s.itl_ms), Line("E2E ms", s.e2e_ms));
  if (s.rejection_ms.count > 0) absl::StrAppend(&out, Line("rejection ms", s.rejection_ms));
  return out;
}

}  // namespace corvid::loadgen
