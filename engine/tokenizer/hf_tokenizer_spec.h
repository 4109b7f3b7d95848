// What a Hugging Face tokenizer.json (+ tokenizer_config.json) says, parsed into plain data.
// Anything the tokenizer cannot reproduce exactly is rejected here with UNIMPLEMENTED naming it.
#ifndef CORVID_ENGINE_TOKENIZER_HF_TOKENIZER_SPEC_H_
#define CORVID_ENGINE_TOKENIZER_HF_TOKENIZER_SPEC_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/tokenizer/split_patterns.h"

namespace corvid {

struct HfAddedToken {
  int32_t id = 0;
  std::string content;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = false;
  bool special = false;
};

struct HfNormalizerStep {
  enum class Kind { kNfc, kPrepend, kReplace };
  Kind kind;
  std::string text;         // Prepend: prefix. Replace: pattern (a literal string)
  std::string replacement;  // Replace: content
};

struct HfPreTokenizerStep {
  enum class Kind { kSplit, kByteLevel, kMetaspace };
  enum class Prepend { kAlways, kFirst, kNever };
  Kind kind;
  SplitPattern pattern = SplitPattern::kGpt2;  // kSplit, and kByteLevel with use_regex
  bool use_regex = false;                      // kByteLevel
  bool add_prefix_space = false;               // kByteLevel
  std::string replacement;                     // kMetaspace
  Prepend prepend = Prepend::kAlways;          // kMetaspace
  bool split = true;                           // kMetaspace
};

struct HfDecoderStep {
  enum class Kind { kByteLevel, kReplace, kByteFallback, kFuse, kStrip, kMetaspace };
  Kind kind;
  std::string pattern, content;  // kReplace: literal pattern -> content; kStrip: content
  int start = 0, stop = 0;       // kStrip
  std::string replacement;       // kMetaspace
  bool prepend = true;           // kMetaspace: prepend_scheme != never
};

struct HfTokenizerSpec {
  std::vector<HfAddedToken> added_tokens;
  std::vector<HfNormalizerStep> normalizers;
  std::vector<HfPreTokenizerStep> pre_tokenizers;
  std::vector<HfDecoderStep> decoders;
  // BPE model.
  std::vector<std::pair<std::string, int32_t>> vocab;
  std::vector<std::pair<std::string, std::string>> merges;
  std::optional<std::string> unk_token;
  bool fuse_unk = false;
  bool byte_fallback = false;
  bool ignore_merges = false;
  // TemplateProcessing "single": special token ids around the sequence.
  bool has_template = false;
  std::vector<int32_t> template_prefix, template_suffix;
  // tokenizer_config.json.
  std::optional<std::string> bos_token, eos_token;
  std::optional<bool> add_bos_token, add_eos_token;
  // Use added_tokens' ids as given (GGUF) instead of re-deriving them as tokenizers does.
  bool keep_added_token_ids = false;
};

// Parses tokenizer.json text, then (when non-empty) tokenizer_config.json text.
absl::StatusOr<HfTokenizerSpec> ParseHfTokenizerSpec(const std::string& tokenizer_json,
                                                     const std::string& config_json);

}  // namespace corvid

#endif  // CORVID_ENGINE_TOKENIZER_HF_TOKENIZER_SPEC_H_
