// Matchers equivalent to the split regexes (see split_patterns.h). Each Match* function returns
// the end of the regex match that starts at i; for these patterns some alternative always
// matches at every position, so the matches tile the text.
#include "engine/tokenizer/split_patterns.h"

#include <array>

#include "absl/strings/str_cat.h"
#include "engine/tokenizer/split_patterns_internal.h"
#include "engine/tokenizer/unicode.h"
#include "engine/tokenizer/utf8.h"

namespace corvid {
namespace {

constexpr uint8_t kL = 1, kN = 2, kS = 4;  // \p{L}, \p{N}, \s; 0 = anything else

constexpr std::array<uint8_t, 128> MakeAsciiClasses() {
  std::array<uint8_t, 128> t{};
  for (int c = 'a'; c <= 'z'; ++c) t[c] = kL;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = kL;
  for (int c = '0'; c <= '9'; ++c) t[c] = kN;
  for (int c = 0x09; c <= 0x0D; ++c) t[c] = kS;
  t[' '] = kS;
  return t;
}
constexpr std::array<uint8_t, 128> kAsciiClasses = MakeAsciiClasses();

inline uint8_t ClassOf(uint32_t cp) {
  if (cp < 0x80) return kAsciiClasses[cp];
  const uint8_t props = unicode::Props(cp);
  const uint8_t cat = props & 0x1F;
  if (cat >= unicode::kLu && cat <= unicode::kLo) return kL;
  if (cat >= unicode::kNd && cat <= unicode::kNo) return kN;
  return (props & unicode::kWhiteSpaceBit) ? kS : 0;
}

inline uint32_t At(std::string_view s, size_t i, size_t* next) {
  const unsigned char b = static_cast<unsigned char>(s[i]);
  if (b < 0x80) {
    *next = i + 1;
    return b;
  }
  *next = i;
  return utf8::DecodeValid(s, next);
}

// Advances from p over code points whose class is in `mask` (0: over "other" code points).
size_t Skip(std::string_view s, size_t p, uint8_t mask) {
  while (p < s.size()) {
    size_t next;
    const uint8_t k = ClassOf(At(s, p, &next));
    if (mask ? !(k & mask) : k != 0) break;
    p = next;
  }
  return p;
}

inline uint32_t FoldCase(uint32_t c) {
  if (c >= 'A' && c <= 'Z') return c + 32;
  if (c == 0x17F) return 's';  // LATIN SMALL LETTER LONG S case-folds to 's'
  return c;
}

// '(s|t|re|ve|m|ll|d) after the apostrophe at p-1; returns the end or 0.
size_t MatchContraction(std::string_view s, size_t p, bool ignore_case) {
  size_t n1;
  uint32_t c = At(s, p, &n1);
  if (ignore_case) c = FoldCase(c);
  if (c == 's' || c == 't' || c == 'm' || c == 'd') return n1;
  uint32_t want;
  if (c == 'r' || c == 'v') {
    want = 'e';
  } else if (c == 'l') {
    want = 'l';
  } else {
    return 0;
  }
  if (n1 >= s.size()) return 0;
  size_t n2;
  uint32_t c2 = At(s, n1, &n2);
  if (ignore_case) c2 = FoldCase(c2);
  return c2 == want ? n2 : 0;
}

// The whitespace alternatives: [\s*[\r\n]+ |] \s+(?!\S) | \s+, at a whitespace code point.
size_t MatchWhitespace(std::string_view s, size_t i, bool newline_alternative) {
  size_t j = i, last_start = i, newline_end = 0;
  int count = 0;
  while (j < s.size()) {
    size_t next;
    const uint32_t c = At(s, j, &next);
    if (!(ClassOf(c) & kS)) break;
    if (c == '\r' || c == '\n') newline_end = next;
    last_start = j;
    j = next;
    ++count;
  }
  if (newline_alternative && newline_end) return newline_end;
  if (j == s.size()) return j;
  if (count >= 2) return last_start;  // leave the last space to prefix the next word
  return j;
}

// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,D}| ?[^\s\p{L}\p{N}]+[\r\n]*|
// \s*[\r\n]+|\s+(?!\S)|\s+   with D = max_digits (3: Llama 3, 1: Qwen2).
size_t MatchLlamaStyle(std::string_view s, size_t i, int max_digits) {
  const size_t n = s.size();
  size_t n1;
  const uint32_t c = At(s, i, &n1);
  const uint8_t k = ClassOf(c);
  if (c == '\'' && n1 < n) {
    const size_t e = MatchContraction(s, n1, /*ignore_case=*/true);
    if (e) return e;
  }
  if (k & kL) return Skip(s, n1, kL);
  if (!(k & kN) && c != '\r' && c != '\n' && n1 < n) {
    size_t n2;
    if (ClassOf(At(s, n1, &n2)) & kL) return Skip(s, n2, kL);
  }
  if (k & kN) {
    size_t e = n1;
    for (int d = 1; d < max_digits && e < n; ++d) {
      size_t next;
      if (!(ClassOf(At(s, e, &next)) & kN)) break;
      e = next;
    }
    return e;
  }
  size_t p = i;
  if (c == ' ' && n1 < n) {
    size_t n2;
    if (ClassOf(At(s, n1, &n2)) == 0) p = n1;
  }
  if (p != i || k == 0) {
    size_t e = Skip(s, p, 0);
    while (e < n && (s[e] == '\r' || s[e] == '\n')) ++e;
    return e;
  }
  return MatchWhitespace(s, i, /*newline_alternative=*/true);
}

// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
size_t MatchGpt2(std::string_view s, size_t i) {
  const size_t n = s.size();
  size_t n1;
  const uint32_t c = At(s, i, &n1);
  if (c == '\'' && n1 < n) {
    const size_t e = MatchContraction(s, n1, /*ignore_case=*/false);
    if (e) return e;
  }
  // With a leading space the class that matters is the next code point's.
  size_t nq = n1;
  uint8_t kq = ClassOf(c);
  if (c == ' ' && n1 < n) {
    size_t n2;
    const uint8_t k2 = ClassOf(At(s, n1, &n2));
    if (!(k2 & kS)) {
      nq = n2;
      kq = k2;
    }
  }
  if (kq & kL) return Skip(s, nq, kL);
  if (kq & kN) return Skip(s, nq, kN);
  if (kq == 0) return Skip(s, nq, 0);
  return MatchWhitespace(s, i, /*newline_alternative=*/false);
}

constexpr char kGpt2Regex[] =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
constexpr char kLlama3Regex[] =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr char kQwen2Regex[] =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

}  // namespace

absl::StatusOr<SplitPattern> SplitPatternFromRegex(std::string_view regex) {
  if (regex == kGpt2Regex) return SplitPattern::kGpt2;
  if (regex == kLlama3Regex) return SplitPattern::kLlama3;
  if (regex == kQwen2Regex) return SplitPattern::kQwen2;
  if (auto deepseek = DeepSeekPatternFromRegex(regex)) return *deepseek;
  return absl::UnimplementedError(
      absl::StrCat("unsupported pre-tokenizer Split regex (no matcher for it): ", utf8::AsAbsl(regex)));
}

// Matches become pieces and so does the text between them.
void SplitIsolated(SplitPattern pattern, std::string_view text, uint32_t base,
                   std::vector<Span>* spans) {
  size_t i = 0, last = 0;
  while (i < text.size()) {
    const size_t e = MatchPartialPattern(pattern, text, i);
    if (e == i) {
      i += utf8::LeadLength(static_cast<unsigned char>(text[i]));
      continue;
    }
    if (last < i) spans->emplace_back(base + last, base + i);
    spans->emplace_back(base + i, base + e);
    i = last = e;
  }
  if (last < text.size()) spans->emplace_back(base + last, base + text.size());
}

void SplitByPattern(SplitPattern pattern, std::string_view text, uint32_t base,
                    std::vector<Span>* spans) {
  if (pattern != SplitPattern::kGpt2 && pattern != SplitPattern::kLlama3 &&
      pattern != SplitPattern::kQwen2) {
    SplitIsolated(pattern, text, base, spans);
    return;
  }
  size_t i = 0;
  while (i < text.size()) {
    size_t e = text.size();
    switch (pattern) {
      case SplitPattern::kGpt2:
        e = MatchGpt2(text, i);
        break;
      case SplitPattern::kLlama3:
        e = MatchLlamaStyle(text, i, 3);
        break;
      case SplitPattern::kQwen2:
        e = MatchLlamaStyle(text, i, 1);
        break;
      default:
        break;
    }
    spans->emplace_back(base + static_cast<uint32_t>(i), base + static_cast<uint32_t>(e));
    i = e;
  }
}

}  // namespace corvid
