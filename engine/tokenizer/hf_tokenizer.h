// Hugging Face tokenizer.json (BPE) tokenizer.
#ifndef CORVID_ENGINE_TOKENIZER_HF_TOKENIZER_H_
#define CORVID_ENGINE_TOKENIZER_HF_TOKENIZER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "engine/tokenizer/decode_rules.h"
#include "engine/tokenizer/hf_tokenizer_spec.h"
#include "engine/tokenizer/tokenizer.h"

namespace corvid {

// Reads `tokenizer_json_path` and, when non-empty and present, `config_path`.
absl::StatusOr<std::unique_ptr<Tokenizer>> LoadHfTokenizer(const std::string& tokenizer_json_path,
                                                           const std::string& config_path);

absl::StatusOr<std::unique_ptr<Tokenizer>> CreateHfTokenizer(HfTokenizerSpec spec);

// A byte-level BPE vocabulary in a GGUF file (gguf_vocab.h).
absl::StatusOr<std::unique_ptr<Tokenizer>> LoadGgufTokenizer(const std::string& gguf_path);

// The DecodeRules of the spec's decoder chain (hf_decode_rules.cc). `tokens[id]` is the
// token string of each id ("" for ids nothing names).
absl::StatusOr<DecodeRules> BuildHfDecodeRules(const HfTokenizerSpec& spec,
                                               const std::vector<std::string>& tokens,
                                               const std::vector<bool>& special);

}  // namespace corvid

#endif  // CORVID_ENGINE_TOKENIZER_HF_TOKENIZER_H_
