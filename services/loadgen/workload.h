// What the load generator sends: prompts (text or token ids) and their output lengths, read
// from a JSONL file or drawn from length distributions.
#ifndef CORVID_SERVICES_LOADGEN_WORKLOAD_H_
#define CORVID_SERVICES_LOADGEN_WORKLOAD_H_

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace corvid::loadgen {

struct RequestSpec {
  std::string text;                // a text prompt (tokenized by the target), or
  std::vector<int32_t> token_ids;  // a prompt of token ids, used when `text` is empty
  int max_tokens = 16;
};

// A distribution of lengths in tokens, always >= 1.
struct LengthDistribution {
  enum class Kind { kFixed, kUniform, kNormal };
  Kind kind = Kind::kFixed;
  double a = 16;  // kFixed: the length; kUniform: low; kNormal: mean
  double b = 0;   // kUniform: high (inclusive); kNormal: standard deviation
  int Sample(std::mt19937_64& rng) const;
  double Mean() const;
};

// "N" or "fixed:N", "uniform:LO:HI", "normal:MEAN:STD" (lengths >= 1, normal draws rounded and
// clamped to >= 1). INVALID_ARGUMENT naming `flag`.
absl::StatusOr<LengthDistribution> ParseLengthDistribution(const std::string& flag,
                                                           const std::string& spec);

struct SyntheticOptions {
  LengthDistribution prompt_len;
  LengthDistribution output_len;
  bool text = false;       // text prompts of prompt_len words, else prompt_len token ids
  int vocab_size = 0;      // ids are drawn uniformly from [first_token_id, vocab_size)
  int first_token_id = 3;  // skips the usual <unk>, <s>, </s>
  int context_length = 0;  // > 0: prompts are shortened so prompt + max_tokens fits
  int64_t count = 1;
  uint64_t seed = 0;
};

// `count` seeded requests. INVALID_ARGUMENT when ids are asked for without a usable vocabulary.
absl::StatusOr<std::vector<RequestSpec>> SyntheticWorkload(const SyntheticOptions& options);

// One request per non-empty line: {"prompt": TEXT} or {"prompt_token_ids": [ids]} (alias
// "token_ids"), and optionally "max_tokens" (alias "output_len"; default `default_max_tokens`).
// A line that does not start with '{' or '[' is a plain-text prompt (`default_max_tokens`).
// INVALID_ARGUMENT naming the file and line for anything else; NOT_FOUND for a missing file.
absl::StatusOr<std::vector<RequestSpec>> LoadJsonlWorkload(const std::string& path,
                                                           int default_max_tokens);

}  // namespace corvid::loadgen

#endif  // CORVID_SERVICES_LOADGEN_WORKLOAD_H_
