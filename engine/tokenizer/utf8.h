// UTF-8 decoding, validation and lossy conversion shared by the tokenizers and the detokenizer.
#ifndef CORVID_ENGINE_TOKENIZER_UTF8_H_
#define CORVID_ENGINE_TOKENIZER_UTF8_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/strings/string_view.h"

namespace corvid::utf8 {

inline constexpr char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD

// What the bytes at the front of a buffer are.
enum class SeqKind { kValid, kInvalid, kTruncated };
struct Seq {
  SeqKind kind;
  // kValid: bytes in the sequence. kInvalid: length of the maximal ill-formed subpart (>= 1),
  // which the Unicode standard's "substitution of maximal subparts" replaces by one U+FFFD.
  // kTruncated: the whole remaining buffer, a valid prefix that more bytes could complete.
  int length;
};
Seq Classify(const unsigned char* p, size_t n);

// Index of the first byte of the first ill-formed sequence, or std::string_view::npos.
size_t FindInvalid(std::string_view s);
inline bool IsValid(std::string_view s) { return FindInvalid(s) == std::string_view::npos; }

// Decodes the code point at s[i] of *valid* UTF-8 and advances i.
inline uint32_t DecodeValid(std::string_view s, size_t* i) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data()) + *i;
  uint32_t c = p[0];
  if (c < 0x80) {
    *i += 1;
    return c;
  }
  if (c < 0xE0) {
    *i += 2;
    return ((c & 0x1F) << 6) | (p[1] & 0x3F);
  }
  if (c < 0xF0) {
    *i += 3;
    return ((c & 0x0F) << 12) | ((p[1] & 0x3F) << 6) | (p[2] & 0x3F);
  }
  *i += 4;
  return ((c & 0x07) << 18) | ((p[1] & 0x3F) << 12) | ((p[2] & 0x3F) << 6) | (p[3] & 0x3F);
}

// Length in bytes of the sequence led by byte `lead` of valid UTF-8.
inline int LeadLength(unsigned char lead) {
  return lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
}

void Append(uint32_t cp, std::string* out);

// Debian's Abseil has its own string_view class; Abseil containers and string functions need it.
inline absl::string_view AsAbsl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

}  // namespace corvid::utf8

#endif  // CORVID_ENGINE_TOKENIZER_UTF8_H_
