// DeepSeek LLM / Coder split patterns: each matches parts of a piece; SplitByPattern keeps the
// text between matches as pieces too. Matching starts at every position in turn, as a regex
// search does.
#include <algorithm>
#include <array>
#include <utility>
#include <vector>

#include "engine/tokenizer/split_patterns.h"
#include "engine/tokenizer/split_patterns_internal.h"
#include "engine/tokenizer/unicode.h"
#include "engine/tokenizer/utf8.h"

namespace corvid {
namespace {

using Range = std::pair<uint32_t, uint32_t>;

// The letter class of DeepSeek LLM's second Split regex, as code point ranges.
constexpr Range kLlmLetters[] = {
    {0x41, 0x5A},       {0x61, 0x7A},       {0xB5, 0xB5},       {0xC0, 0xD6},
    {0xD8, 0xF6},       {0xF8, 0x1BA},      {0x1BC, 0x1BF},     {0x1C4, 0x293},
    {0x295, 0x2AF},     {0x370, 0x373},     {0x376, 0x377},     {0x37B, 0x37D},
    {0x37F, 0x37F},     {0x386, 0x386},     {0x388, 0x38A},     {0x38C, 0x38C},
    {0x38E, 0x3A1},     {0x3A3, 0x3F5},     {0x3F7, 0x481},     {0x48A, 0x52F},
    {0x531, 0x556},     {0x10A0, 0x10C5},   {0x13A0, 0x13F5},   {0x13F8, 0x13FD},
    {0x1C90, 0x1CBA},   {0x1CBD, 0x1CBF},   {0x1D00, 0x1D2B},   {0x1D6B, 0x1D77},
    {0x1D79, 0x1D9A},   {0x1E00, 0x1F15},   {0x1F18, 0x1F1D},   {0x1F20, 0x1F45},
    {0x1F48, 0x1F4D},   {0x1F50, 0x1F57},   {0x1F59, 0x1F59},   {0x1F5B, 0x1F5B},
    {0x1F5D, 0x1F5D},   {0x1F5F, 0x1F7D},   {0x1F80, 0x1FB4},   {0x1FB6, 0x1FBC},
    {0x1FBE, 0x1FBE},   {0x1FC2, 0x1FC4},   {0x1FC6, 0x1FCC},   {0x1FD0, 0x1FD3},
    {0x1FD6, 0x1FDB},   {0x1FE0, 0x1FEC},   {0x1FF2, 0x1FF4},   {0x1FF6, 0x1FFC},
    {0x2102, 0x2102},   {0x2107, 0x2107},   {0x210A, 0x2113},   {0x2115, 0x2115},
    {0x2119, 0x211D},   {0x2124, 0x2124},   {0x2126, 0x2126},   {0x2128, 0x2128},
    {0x212A, 0x212D},   {0x212F, 0x2134},   {0x2139, 0x2139},   {0x213C, 0x213F},
    {0x2145, 0x2149},   {0x214E, 0x214E},   {0x2183, 0x2184},   {0x2C00, 0x2C7B},
    {0x2C7E, 0x2CE4},   {0x2CEB, 0x2CEE},   {0x2CF2, 0x2CF3},   {0xA640, 0xA66D},
    {0xA680, 0xA69B},   {0xA722, 0xA76F},   {0xA771, 0xA787},   {0xA78B, 0xA78E},
    {0xAB70, 0xABBF},   {0xFB00, 0xFB06},   {0xFB13, 0xFB17},   {0xFF21, 0xFF3A},
    {0xFF41, 0xFF5A},   {0x10400, 0x1044F}, {0x104B0, 0x104D3}, {0x104D8, 0x104FB},
    {0x10C80, 0x10CB2}, {0x10CC0, 0x10CF2}, {0x118A0, 0x118DF}, {0x1E900, 0x1E943},
};
constexpr Range kLlmPunct[] = {{0x21, 0x2F},     {0x3A, 0x7E},     {0x2018, 0x201F},
                               {0x3000, 0x3002}, {0xFF01, 0xFF0F}, {0xFF1A, 0xFF5E}};
constexpr Range kCjk[] = {{0x800, 0x4E00}, {0x4E00, 0x9FA5}, {0xAC00, 0xD7FF}};

std::vector<Range> Merge(std::vector<Range> ranges) {
  std::sort(ranges.begin(), ranges.end());
  std::vector<Range> out;
  for (const Range& r : ranges) {
    if (!out.empty() && r.first <= out.back().second + 1) {
      out.back().second = std::max(out.back().second, r.second);
    } else {
      out.push_back(r);
    }
  }
  return out;
}

template <size_t N>
bool InRanges(const Range (&ranges)[N], uint32_t cp) {
  auto it = std::upper_bound(std::begin(ranges), std::end(ranges), cp,
                             [](uint32_t c, const Range& r) { return c < r.first; });
  if (it == std::begin(ranges)) return false;
  --it;
  return cp <= it->second;
}

inline uint32_t At(std::string_view s, size_t i, size_t* next) {
  *next = i;
  return utf8::DecodeValid(s, next);
}

template <typename Pred>
size_t Run(std::string_view s, size_t p, Pred in_class) {
  while (p < s.size()) {
    size_t next;
    if (!in_class(At(s, p, &next))) break;
    p = next;
  }
  return p;
}

// \s?X+ at i.
template <typename Pred>
size_t SpaceThenRun(std::string_view s, size_t i, Pred in_class) {
  size_t n1;
  const uint32_t c = At(s, i, &n1);
  if (unicode::IsWhiteSpace(c) && n1 < s.size()) {
    size_t n2;
    if (in_class(At(s, n1, &n2))) return Run(s, n2, in_class);
  }
  return in_class(c) ? Run(s, n1, in_class) : i;
}

// Sorted, merged ranges of a bracket expression's body ("a-zA-Z_" style, no escapes).
std::vector<Range> ParseClass(std::string_view body) {
  std::vector<uint32_t> cps;
  for (size_t i = 0; i < body.size();) cps.push_back(utf8::DecodeValid(body, &i));
  std::vector<Range> ranges;
  for (size_t k = 0; k < cps.size(); ++k) {
    if (k + 2 < cps.size() && cps[k + 1] == '-') {
      ranges.emplace_back(cps[k], cps[k + 2]);
      k += 2;
    } else {
      ranges.emplace_back(cps[k], cps[k]);
    }
  }
  return Merge(ranges);
}

template <size_t N>
std::vector<Range> Table(const Range (&ranges)[N]) {
  return Merge(std::vector<Range>(std::begin(ranges), std::end(ranges)));
}

bool Consume(std::string_view* s, std::string_view prefix) {
  if (s->substr(0, prefix.size()) != prefix) return false;
  s->remove_prefix(prefix.size());
  return true;
}

}  // namespace

std::optional<SplitPattern> DeepSeekPatternFromRegex(std::string_view regex) {
  using P = SplitPattern;
  if (regex == "[\\r\\n]" || regex == "[\r\n]") return P::kDeepSeekNewline;
  if (regex == "\\s?\\p{L}+") return P::kDeepSeekCoderLetters;
  if (regex == "\\s?\\p{P}+") return P::kDeepSeekCoderPunct;
  if (regex == "\\p{N}+") return P::kDeepSeekNumbers;
  if (regex == "\\p{N}") return P::kDeepSeekDigit;
  if (regex == "\\s+$") return P::kDeepSeekTrailingSpace;
  std::string_view body = regex;
  const bool space_prefix = Consume(&body, "\\s?");
  if (!Consume(&body, "[") || body.size() < 2 || body.substr(body.size() - 2) != "]+") {
    return std::nullopt;
  }
  const std::vector<Range> ranges = ParseClass(body.substr(0, body.size() - 2));
  if (space_prefix && ranges == Table(kLlmLetters)) return P::kDeepSeekLlmLetters;
  if (space_prefix && ranges == Table(kLlmPunct)) return P::kDeepSeekLlmPunct;
  if (!space_prefix && ranges == Table(kCjk)) return P::kDeepSeekCjk;
  return std::nullopt;
}

size_t MatchPartialPattern(SplitPattern pattern, std::string_view s, size_t i) {
  size_t n1;
  const uint32_t c = At(s, i, &n1);
  switch (pattern) {
    case SplitPattern::kDeepSeekNewline:
      return c == '\r' || c == '\n' ? n1 : i;
    case SplitPattern::kDeepSeekLlmLetters:
      return SpaceThenRun(s, i, [](uint32_t cp) { return InRanges(kLlmLetters, cp); });
    case SplitPattern::kDeepSeekLlmPunct:
      return SpaceThenRun(s, i, [](uint32_t cp) { return InRanges(kLlmPunct, cp); });
    case SplitPattern::kDeepSeekTrailingSpace: {
      const size_t end = Run(s, i, unicode::IsWhiteSpace);
      return end > i && end == s.size() ? end : i;
    }
    case SplitPattern::kDeepSeekCjk:
      return Run(s, i, [](uint32_t cp) { return InRanges(kCjk, cp); });
    case SplitPattern::kDeepSeekNumbers:
      return Run(s, i, unicode::IsNumber);
    case SplitPattern::kDeepSeekCoderLetters:
      return SpaceThenRun(s, i, unicode::IsLetter);
    case SplitPattern::kDeepSeekCoderPunct:
      return SpaceThenRun(s, i, unicode::IsPunctuation);
    case SplitPattern::kDeepSeekDigit:
      return unicode::IsNumber(c) ? n1 : i;
    default:
      return i;
  }
}

std::vector<SplitPattern> DeepSeekPreTokenizer(std::string_view name) {
  using P = SplitPattern;
  if (name == "deepseek-llm") {
    return {P::kDeepSeekNewline,       P::kDeepSeekLlmLetters, P::kDeepSeekLlmPunct,
            P::kDeepSeekTrailingSpace, P::kDeepSeekCjk,        P::kDeepSeekNumbers};
  }
  if (name == "deepseek-coder") {
    return {P::kDeepSeekNewline, P::kDeepSeekCoderLetters, P::kDeepSeekCoderPunct,
            P::kDeepSeekCjk, P::kDeepSeekDigit};
  }
  return {};
}

}  // namespace corvid
