// Shared between split_patterns.cc and deepseek_split.cc.
#ifndef CORVID_ENGINE_TOKENIZER_SPLIT_PATTERNS_INTERNAL_H_
#define CORVID_ENGINE_TOKENIZER_SPLIT_PATTERNS_INTERNAL_H_

#include <cstddef>
#include <optional>
#include <string_view>

#include "engine/tokenizer/split_patterns.h"

namespace corvid {

// For the patterns that match only parts of the text: the end of the match starting at i,
// or i itself when none starts there.
size_t MatchPartialPattern(SplitPattern pattern, std::string_view s, size_t i);

// The DeepSeek pattern a tokenizer.json Split regex denotes, if any. Character classes are
// compared as sets of code points, so any way of writing the same ranges is recognised.
std::optional<SplitPattern> DeepSeekPatternFromRegex(std::string_view regex);

}  // namespace corvid

#endif  // CORVID_ENGINE_TOKENIZER_SPLIT_PATTERNS_INTERNAL_H_
