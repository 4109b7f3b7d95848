#include "services/loadgen/workload.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace corvid::loadgen {
namespace {

// Common English words: text prompts of roughly one token per word on English vocabularies.
constexpr const char* kWords[] = {
    "the",  "little", "girl", "saw",  "a",    "big",  "red",    "ball", "in",    "park",
    "she",  "wanted", "to",   "play", "with", "her",  "friend", "one",  "day",   "sun",
    "was",  "happy",  "and",  "they", "went", "home", "dog",    "cat",  "tree",  "house",
    "blue", "sky",    "time", "mom",  "said", "good", "night",  "bird", "small", "fun"};
constexpr int kNumWords = sizeof(kWords) / sizeof(kWords[0]);

absl::Status BadLength(const std::string& flag, const std::string& spec) {
  return absl::InvalidArgumentError(
      absl::StrCat("--", flag, "=", spec,
                   ": expected N, fixed:N, uniform:LO:HI or normal:MEAN:STD with lengths >= 1"));
}

}  // namespace

int LengthDistribution::Sample(std::mt19937_64& rng) const {
  double v = a;
  if (kind == Kind::kUniform) {
    std::uniform_int_distribution<int> d(static_cast<int>(a), static_cast<int>(b));
    v = d(rng);
  } else if (kind == Kind::kNormal) {
    std::normal_distribution<double> d(a, b);
    v = std::round(d(rng));
  }
  return std::max(1, static_cast<int>(v));
}

double LengthDistribution::Mean() const { return kind == Kind::kUniform ? (a + b) / 2 : a; }

absl::StatusOr<LengthDistribution> ParseLengthDistribution(const std::string& flag,
                                                           const std::string& spec) {
  std::vector<std::string> parts = absl::StrSplit(spec, ':');
  if (parts.size() == 1) parts.insert(parts.begin(), "fixed");
  LengthDistribution d;
  std::vector<double> values;
  for (size_t i = 1; i < parts.size(); ++i) {
    double v;
    if (!absl::SimpleAtod(parts[i], &v) || !std::isfinite(v)) return BadLength(flag, spec);
    values.push_back(v);
  }
  if (parts[0] == "fixed" && values.size() == 1 && values[0] >= 1) {
    d.kind = LengthDistribution::Kind::kFixed;
    d.a = std::floor(values[0]);
  } else if (parts[0] == "uniform" && values.size() == 2 && values[0] >= 1 &&
             values[1] >= values[0]) {
    d.kind = LengthDistribution::Kind::kUniform;
    d.a = std::floor(values[0]);
    d.b = std::floor(values[1]);
  } else if (parts[0] == "normal" && values.size() == 2 && values[0] >= 1 && values[1] >= 0) {
    d.kind = LengthDistribution::Kind::kNormal;
    d.a = values[0];
    d.b = values[1];
  } else {
    return BadLength(flag, spec);
  }
  return d;
}

absl::StatusOr<std::vector<RequestSpec>> SyntheticWorkload(const SyntheticOptions& options) {
  if (!options.text && options.vocab_size <= options.first_token_id) {
    return absl::InvalidArgumentError(
        absl::StrCat("token-id prompts need a vocabulary larger than ", options.first_token_id,
                     " ids, got ", options.vocab_size));
  }
  std::mt19937_64 rng(options.seed);
  std::uniform_int_distribution<int32_t> id(
      options.first_token_id, std::max(options.first_token_id, options.vocab_size - 1));
  std::uniform_int_distribution<int> word(0, kNumWords - 1);
  std::vector<RequestSpec> out(static_cast<size_t>(std::max<int64_t>(options.count, 0)));
  for (RequestSpec& spec : out) {
    int prompt_len = options.prompt_len.Sample(rng);
    spec.max_tokens = options.output_len.Sample(rng);
    if (options.context_length > 0) {
      spec.max_tokens = std::min(spec.max_tokens, options.context_length - 1);
      // Text prompts may encode to more tokens than words (BOS, split words): keep a margin.
      const int margin = options.text ? 1 + prompt_len / 4 : 0;
      prompt_len =
          std::max(1, std::min(prompt_len, options.context_length - spec.max_tokens - margin));
    }
    if (options.text) {
      for (int i = 0; i < prompt_len; ++i) {
        if (i > 0) spec.text += ' ';
        spec.text += kWords[word(rng)];
      }
    } else {
      spec.token_ids.resize(static_cast<size_t>(prompt_len));
      for (int32_t& t : spec.token_ids) t = id(rng);
    }
  }
  return out;
}

}  // namespace corvid::loadgen
