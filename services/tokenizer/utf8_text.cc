#include "services/tokenizer/utf8_text.h"

namespace corvid::tokenizer_service {
namespace {

// Length of the valid sequence at s[i], or 0 when it is ill-formed. On 0, *bad is the length
// of the maximal ill-formed subpart (what one U+FFFD replaces).
size_t ValidLength(std::string_view s, size_t i, size_t* bad) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  *bad = 1;
  if (c < 0x80) return 1;
  size_t need;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    need = 1;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 2;
    if (c == 0xE0) lo = 0xA0;  // no overlong forms
    if (c == 0xED) hi = 0x9F;  // no surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 3;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  } else {
    return 0;
  }
  for (size_t k = 1; k <= need; ++k) {
    if (i + k >= s.size()) return 0;
    unsigned char b = byte(i + k);
    if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) return 0;
    *bad = k + 1;
  }
  return need + 1;
}

}  // namespace

size_t FirstInvalidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    // ASCII fast path: prompts are mostly ASCII.
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    size_t bad;
    size_t n = ValidLength(s, i, &bad);
    if (n == 0) return i;
    i += n;
  }
  return std::string_view::npos;
}

void MakeValidUtf8(std::string* s) {
  size_t first = FirstInvalidUtf8(*s);
  if (first == std::string_view::npos) return;
  std::string out = s->substr(0, first);
  size_t i = first;
  while (i < s->size()) {
    size_t bad;
    size_t n = ValidLength(*s, i, &bad);
    if (n > 0) {
      out.append(*s, i, n);
      i += n;
    } else {
      out.append("\xEF\xBF\xBD");
      i += bad;
    }
  }
  s->swap(out);
}

}  // namespace corvid::tokenizer_service
