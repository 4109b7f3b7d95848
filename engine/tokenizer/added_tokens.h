// Finds added tokens (special tokens and user-added ones) in text before any normalization or
// splitting, as tokenizers' AddedVocabulary does: leftmost-longest matches, honouring each
// token's single_word, lstrip and rstrip flags.
#ifndef CORVID_ENGINE_TOKENIZER_ADDED_TOKENS_H_
#define CORVID_ENGINE_TOKENIZER_ADDED_TOKENS_H_

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "engine/tokenizer/hf_tokenizer_spec.h"

namespace corvid {

class AddedTokenMatcher {
 public:
  AddedTokenMatcher() = default;
  explicit AddedTokenMatcher(const std::vector<const HfAddedToken*>& tokens);

  bool empty() const { return tokens_.empty(); }

  // Cuts `text` into consecutive parts, calling emit(id, begin, end) for each: id >= 0 for an
  // added token, -1 for the text between tokens. Parts are never empty.
  void Split(std::string_view text,
             absl::FunctionRef<void(int32_t id, size_t begin, size_t end)> emit) const;

 private:
  // Longest token starting at text[pos]: index into tokens_ and its end, or -1.
  int LongestAt(std::string_view text, size_t pos, size_t* end) const;

  std::vector<HfAddedToken> tokens_;
  // Byte trie: node 0 is the root; terminal_[node] is a token index or -1.
  absl::flat_hash_map<uint64_t, int32_t> edges_;
  std::vector<int32_t> terminal_{-1};
  std::array<bool, 256> first_byte_{};
};

}  // namespace corvid

#endif  // CORVID_ENGINE_TOKENIZER_ADDED_TOKENS_H_
