// Shared between split_patterns.cc and deepseek_split.cc.
#ifndef CORVID_ENGINE_TOKENIZER_SPLIT_PATTERNS_INTERNAL_H_
#define CORVID_ENGINE_TOKENIZER_SPLIT_PATTERNS_INTERNAL_H_

#include <cstddef>
#include <string_view>

#include "engine/tokenizer/split_patterns.h"

namespace corvid {

// For the patterns that match only parts of the text: the end of the match starting at i,
// or i itself when none starts there.
size_t MatchPartialPattern(SplitPattern pattern, std::string_view s, size_t i);

}  // namespace corvid

#endif  // CORVID_ENGINE_TOKENIZER_SPLIT_PATTERNS_INTERNAL_H_
