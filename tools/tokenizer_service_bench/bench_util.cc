#include "tools/tokenizer_service_bench/bench_util.h"

#include <httplib.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace corvid::bench {
namespace {

constexpr const char* kWords[] = {
    "the",      "model",   "returns",   "a",      "summary",  "of",        "this",
    "document", "and",     "lists",     "every",  "customer", "who",       "ordered",
    "between",  "January", "March",     "please", "write",    "short",     "story",
    "about",    "little",  "girl",      "named",  "Lily",     "she",       "loved",
    "to",       "play",    "outside",   "in",     "park",     "translate", "following",
    "sentence", "into",    "French",    "café",   "naïve",    "résumé",    "function",
    "returns",  "value",   "error",     "when",   "input",    "is",        "empty",
    "explain",  "why",     "sky",       "blue",   "Straße",   "über",      "Größe",
    "system",   "prompt",  "assistant", "user",   "question", "answer",    "temperature",
    "token",    "budget",  "deadline",  "server"};

}  // namespace

std::vector<std::string> MakePrompts(int count, int bytes, uint32_t seed) {
  std::mt19937 rng(seed);
  constexpr int kNumWords = sizeof(kWords) / sizeof(kWords[0]);
  std::vector<std::string> out;
  out.reserve(count);
  for (int i = 0; i < count; ++i) {
    std::string p;
    while (static_cast<int>(p.size()) < bytes) {
      uint32_t r = rng();
      if (!p.empty()) p += (r % 13 == 0) ? ". " : (r % 17 == 0) ? ", " : " ";
      if (r % 29 == 0) {
        p += std::to_string(rng() % 100000);
      } else {
        p += kWords[rng() % kNumWords];
      }
    }
    // Cut to `bytes` on a character boundary (never inside a multi-byte sequence).
    size_t cut = bytes;
    while (cut > 0 && (static_cast<unsigned char>(p[cut]) & 0xC0) == 0x80) --cut;
    p.resize(cut);
    while (static_cast<int>(p.size()) < bytes) p += '.';
    out.push_back(std::move(p));
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> CorpusPrompts(const std::vector<std::string>& files,
                                                       int count, int bytes, uint32_t seed) {
  std::string text;
  for (const std::string& path : files) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
    std::ostringstream s;
    s << in.rdbuf();
    text += s.str();
    text += '\n';
  }
  if (static_cast<int>(text.size()) < 2 * bytes) {
    return absl::InvalidArgumentError("corpus shorter than two prompts");
  }
  auto continuation = [&](size_t i) {
    return (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80;
  };
  std::mt19937 rng(seed);
  std::vector<std::string> out;
  for (int i = 0; i < count; ++i) {
    size_t start = rng() % (text.size() - bytes - 8);
    while (continuation(start)) ++start;
    size_t end = start + bytes;
    while (end > start && continuation(end)) --end;
    out.push_back(text.substr(start, end - start));
  }
  return out;
}

LatencySummary Summarize(std::vector<double> seconds) {
  LatencySummary s;
  if (seconds.empty()) return s;
  std::sort(seconds.begin(), seconds.end());
  auto at = [&](double q) {
    size_t i = static_cast<size_t>(q * (seconds.size() - 1));
    return seconds[i] * 1e3;
  };
  s.p50_ms = at(0.5);
  s.p90_ms = at(0.9);
  s.p99_ms = at(0.99);
  s.max_ms = seconds.back() * 1e3;
  return s;
}

absl::StatusOr<double> ScrapeServerCpuSeconds(const std::string& metrics_address) {
  size_t colon = metrics_address.rfind(':');
  int port = 0;
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(absl::string_view(metrics_address).substr(colon + 1), &port)) {
    return absl::InvalidArgumentError(absl::StrCat("--metrics=", metrics_address, ": HOST:PORT"));
  }
  httplib::Client client(metrics_address.substr(0, colon), port);
  auto res = client.Get("/metrics");
  if (!res || res->status != 200) {
    return absl::UnavailableError(
        absl::StrCat("cannot scrape http://", metrics_address, "/metrics"));
  }
  double total = 0;
  int found = 0;
  for (absl::string_view line : absl::StrSplit(res->body, '\n')) {
    if (!absl::StartsWith(line, "corvid_process_cpu_seconds_total{")) continue;
    size_t space = line.rfind(' ');
    double v;
    if (space != absl::string_view::npos && absl::SimpleAtod(line.substr(space + 1), &v)) {
      total += v;
      ++found;
    }
  }
  if (found == 0) return absl::NotFoundError("no corvid_process_cpu_seconds_total in /metrics");
  return total;
}

}  // namespace corvid::bench
