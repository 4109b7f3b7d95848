#include "engine/tokenizer/added_tokens.h"

#include "engine/tokenizer/unicode.h"
#include "engine/tokenizer/utf8.h"

namespace corvid {
namespace {

uint64_t EdgeKey(int32_t node, unsigned char byte) {
  return (static_cast<uint64_t>(node) << 8) | byte;
}

// Start of the code point that ends at `end` (valid UTF-8).
size_t PrevCodePointStart(std::string_view s, size_t end) {
  size_t i = end - 1;
  while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
  return i;
}

bool IsWordChar(uint32_t cp) {
  return cp == '_' || unicode::IsLetter(cp) || unicode::IsNumber(cp);
}

}  // namespace

AddedTokenMatcher::AddedTokenMatcher(const std::vector<const HfAddedToken*>& tokens) {
  for (const HfAddedToken* t : tokens) {
    if (t->content.empty()) continue;
    const int32_t index = static_cast<int32_t>(tokens_.size());
    tokens_.push_back(*t);
    int32_t node = 0;
    for (unsigned char b : t->content) {
      auto [it, inserted] = edges_.try_emplace(EdgeKey(node, b), 0);
      if (inserted) {
        it->second = static_cast<int32_t>(terminal_.size());
        terminal_.push_back(-1);
      }
      node = it->second;
    }
    if (terminal_[node] < 0) terminal_[node] = index;  // the first of duplicates wins
    first_byte_[static_cast<unsigned char>(t->content[0])] = true;
  }
}

int AddedTokenMatcher::LongestAt(std::string_view text, size_t pos, size_t* end) const {
  int best = -1;
  int32_t node = 0;
  for (size_t i = pos; i < text.size(); ++i) {
    auto it = edges_.find(EdgeKey(node, static_cast<unsigned char>(text[i])));
    if (it == edges_.end()) break;
    node = it->second;
    if (terminal_[node] >= 0) {
      best = terminal_[node];
      *end = i + 1;
    }
  }
  return best;
}

void AddedTokenMatcher::Split(
    std::string_view text,
    absl::FunctionRef<void(int32_t id, size_t begin, size_t end)> emit) const {
  size_t done = 0;  // text[0, done) has been emitted
  size_t pos = 0;
  while (pos < text.size()) {
    if (!first_byte_[static_cast<unsigned char>(text[pos])]) {
      ++pos;
      continue;
    }
    size_t stop = 0;
    const int index = LongestAt(text, pos, &stop);
    if (index < 0) {
      ++pos;
      continue;
    }
    const HfAddedToken& token = tokens_[index];
    size_t start = pos;
    if (token.single_word) {
      bool word_before = false;
      if (pos > 0) {
        size_t j = PrevCodePointStart(text, pos);
        word_before = IsWordChar(utf8::DecodeValid(text, &j));
      }
      size_t i = stop;
      const bool word_after = stop < text.size() && IsWordChar(utf8::DecodeValid(text, &i));
      if (word_before || word_after) {
        pos = stop;  // like aho-corasick's iterator, resume after the rejected match
        continue;
      }
    }
    if (token.lstrip) {
      while (start > done) {
        const size_t prev = PrevCodePointStart(text, start);
        size_t i = prev;
        if (!unicode::IsWhiteSpace(utf8::DecodeValid(text, &i))) break;
        start = prev;
      }
    }
    if (token.rstrip) {
      while (stop < text.size()) {
        size_t i = stop;
        if (!unicode::IsWhiteSpace(utf8::DecodeValid(text, &i))) break;
        stop = i;
      }
    }
    if (start > done) emit(-1, done, start);
    emit(token.id, start, stop);
    done = pos = stop;
  }
  if (done < text.size()) emit(-1, done, text.size());
}

}  // namespace corvid
