// Hand-written matchers for the pre-tokenizer split regexes of the byte-level BPE tokenizers
// we serve. Each reproduces, over code points, the leftmost-first backtracking semantics of
// the regex that Hugging Face `tokenizers` runs (Oniguruma: \s = White_Space, \p{L}, \p{N} =
// general categories), without compiling a regex at all.
#ifndef CORVID_ENGINE_TOKENIZER_SPLIT_PATTERNS_H_
#define CORVID_ENGINE_TOKENIZER_SPLIT_PATTERNS_H_

#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace corvid {

enum class SplitPattern {
  kGpt2,          // ByteLevel(use_regex=true) and GPT-2's Split
  kLlama3,        // Llama 3 (and DeepSeek-R1-Distill-Llama): \p{N}{1,3}
  kQwen2,         // Qwen2/Qwen3: like Llama 3 with single digits
  // The Split sequence of DeepSeek LLM / Coder (llama.cpp's pre-tokenizers "deepseek-llm"
  // and "deepseek-coder"). These match only parts of the text; the rest between matches
  // stays as pieces of its own (tokenizers' Isolated behaviour).
  kDeepSeekNewline,        // [\r\n]
  kDeepSeekLlmLetters,     // \s?[A-Za-zµÀ-ÖØ-ö...𞤀-𞥃]+ (a fixed list of cased-letter ranges)
  kDeepSeekLlmPunct,       // \s?[!-/:-~！-／：-～‘-‟　-。]+
  kDeepSeekTrailingSpace,  // \s+$
  kDeepSeekCjk,            // [一-龥ࠀ-一가-퟿]+
  kDeepSeekNumbers,        // \p{N}+
  kDeepSeekCoderLetters,   // \s?\p{L}+
  kDeepSeekCoderPunct,     // \s?\p{P}+
  kDeepSeekDigit,          // \p{N}
};

// The Split steps of llama.cpp's named pre-tokenizers, in order; empty for other names.
std::vector<SplitPattern> DeepSeekPreTokenizer(std::string_view name);

// The pattern a tokenizer.json Split regex denotes; UNIMPLEMENTED naming it otherwise.
absl::StatusOr<SplitPattern> SplitPatternFromRegex(std::string_view regex);

using Span = std::pair<uint32_t, uint32_t>;  // [begin, end) byte offsets

// Appends the pieces of valid-UTF-8 `text` as spans offset by `base`. Every byte of `text`
// lands in exactly one span, in order.
void SplitByPattern(SplitPattern pattern, std::string_view text, uint32_t base,
                    std::vector<Span>* spans);

}  // namespace corvid

#endif  // CORVID_ENGINE_TOKENIZER_SPLIT_PATTERNS_H_
