#include "services/loadgen/workload.h"

#include <algorithm>
#include <fstream>

#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace corvid::loadgen {

absl::StatusOr<LengthDist> LengthDist::Parse(const std::string& text) {
  std::vector<std::string> parts = absl::StrSplit(text, ':');
  LengthDist d;
  auto num = [&](const std::string& s, double* out) { return absl::SimpleAtod(s, out); };
  bool ok = false;
  if (parts.size() == 1) {
    d.kind = Kind::kFixed;
    ok = num(parts[0], &d.a);
    d.b = d.a;
  } else if (parts.size() == 2) {
    d.kind = Kind::kUniform;
    ok = num(parts[0], &d.a) && num(parts[1], &d.b) && d.a <= d.b;
  } else if (parts.size() == 3 && parts[0] == "normal") {
    d.kind = Kind::kNormal;
    ok = num(parts[1], &d.a) && num(parts[2], &d.b) && d.b >= 0;
  }
  if (!ok || d.a < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("length '", text, "': expected N, A:B or normal:MEAN:STDDEV (>= 1)"));
  }
  return d;
}

int LengthDist::Sample(std::mt19937_64& rng) const {
  switch (kind) {
    case Kind::kFixed: return static_cast<int>(a);
    case Kind::kUniform:
      return std::uniform_int_distribution<int>(static_cast<int>(a), static_cast<int>(b))(rng);
    case Kind::kNormal:
      return std::max(1, static_cast<int>(std::lround(std::normal_distribution<double>(a, b)(rng))));
  }
  return 1;
}

namespace {

absl::StatusOr<std::vector<RequestSpec>> ReadPromptFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::vector<RequestSpec> specs;
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    RequestSpec s;
    s.max_tokens = 0;  // from the distribution unless the line says
    if (line[0] == '{') {
      try {
        nlohmann::json j = nlohmann::json::parse(line);
        s.text = j.at("prompt").get<std::string>();
        if (j.contains("max_tokens")) s.max_tokens = j.at("max_tokens").get<int>();
      } catch (const std::exception& e) {
        return absl::InvalidArgumentError(absl::StrCat(path, ":", line_no, ": ", e.what()));
      }
    } else {
      s.text = line;
    }
    specs.push_back(std::move(s));
  }
  if (specs.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": no prompts"));
  return specs;
}

}  // namespace

absl::StatusOr<std::vector<RequestSpec>> BuildWorkload(const WorkloadOptions& o) {
  std::mt19937_64 rng(o.seed);
  std::vector<RequestSpec> file;
  if (!o.prompt_file.empty()) {
    auto read = ReadPromptFile(o.prompt_file);
    if (!read.ok()) return read.status();
    file = std::move(*read);
  }
  std::vector<RequestSpec> specs;
  std::exponential_distribution<double> gap(o.rate > 0 ? o.rate / std::max(o.burst, 1) : 1.0);
  double t = 0;
  for (int i = 0; i < o.num_requests; ++i) {
    RequestSpec s;
    if (!file.empty()) {
      s = file[i % file.size()];
    } else {
      const int n = o.input_len.Sample(rng);
      std::uniform_int_distribution<int32_t> id(3, std::max(4, o.vocab_size) - 1);
      for (int k = 0; k < n; ++k) s.prompt_ids.push_back(id(rng));
    }
    if (s.max_tokens <= 0) s.max_tokens = o.output_len.Sample(rng);
    // Bursts: the first request of each burst draws the gap, the others arrive with it.
    if (o.rate > 0 && i % std::max(o.burst, 1) == 0 && i > 0) t += gap(rng);
    s.arrival = absl::Seconds(t);
    specs.push_back(std::move(s));
  }
  return specs;
}

}  // namespace corvid::loadgen
