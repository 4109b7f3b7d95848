// Unicode properties (general category, White_Space) and NFC normalization, from the tables
// that tools/unicode/gen_tables.py generates.
#ifndef CORVID_ENGINE_TOKENIZER_UNICODE_H_
#define CORVID_ENGINE_TOKENIZER_UNICODE_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "engine/tokenizer/unicode_tables.h"

namespace corvid::unicode {

// Same order as CATEGORIES in gen_tables.py.
enum Category : uint8_t {
  kCn, kLu, kLl, kLt, kLm, kLo, kMn, kMc, kMe, kNd, kNl, kNo, kPc, kPd, kPs, kPe, kPi, kPf,
  kPo, kSm, kSc, kSk, kSo, kZs, kZl, kZp, kCc, kCf, kCs, kCo
};

inline uint8_t Props(uint32_t cp) {
  if (cp >= 0x110000) return 0;
  return kPropStage2[(static_cast<uint32_t>(kPropStage1[cp >> kPropShift]) << kPropShift) |
                     (cp & ((1u << kPropShift) - 1))];
}
inline Category GetCategory(uint32_t cp) { return static_cast<Category>(Props(cp) & 0x1F); }
inline bool IsLetter(uint32_t cp) {
  const Category c = GetCategory(cp);
  return c >= kLu && c <= kLo;
}
inline bool IsNumber(uint32_t cp) {
  const Category c = GetCategory(cp);
  return c >= kNd && c <= kNo;
}
inline bool IsPunctuation(uint32_t cp) {
  const Category c = GetCategory(cp);
  return c >= kPc && c <= kPo;
}
inline bool IsWhiteSpace(uint32_t cp) { return Props(cp) & kWhiteSpaceBit; }

// True when `s` (valid UTF-8) is certainly in NFC: no code point in it can take part in a
// canonical reordering, decomposition or composition.
bool IsNfcQuick(std::string_view s);
// NFC of valid UTF-8.
std::string ToNfc(std::string_view s);

}  // namespace corvid::unicode

#endif  // CORVID_ENGINE_TOKENIZER_UNICODE_H_
