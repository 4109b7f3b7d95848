// NFC: canonical decomposition, canonical ordering, canonical composition (UAX #15), with the
// algorithmic Hangul rules. Only strings that fail IsNfcQuick take this path.
#include <algorithm>
#include <vector>

#include "engine/tokenizer/unicode.h"
#include "engine/tokenizer/utf8.h"

namespace corvid::unicode {
namespace {

constexpr uint32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr uint32_t kLCount = 19, kVCount = 21, kTCount = 28, kNCount = kVCount * kTCount;
constexpr uint32_t kSCount = kLCount * kNCount;

// Binary search over a sorted table of `stride`-wide rows keyed by their first column(s).
const uint32_t* FindRow(const uint32_t* table, int rows, int stride, uint32_t k0, uint32_t k1,
                        bool two_keys) {
  int lo = 0, hi = rows;
  while (lo < hi) {
    const int mid = (lo + hi) / 2;
    const uint32_t* row = table + mid * stride;
    const bool less = row[0] < k0 || (two_keys && row[0] == k0 && row[1] < k1);
    if (less) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  if (lo == rows) return nullptr;
  const uint32_t* row = table + lo * stride;
  if (row[0] != k0 || (two_keys && row[1] != k1)) return nullptr;
  return row;
}

int CombiningClass(uint32_t cp) {
  const uint32_t* row = FindRow(kCombiningClasses, kNumCombiningClasses, 2, cp, 0, false);
  return row ? static_cast<int>(row[1]) : 0;
}

void Decompose(uint32_t cp, std::vector<uint32_t>* out) {
  if (cp >= kSBase && cp < kSBase + kSCount) {
    const uint32_t s = cp - kSBase;
    out->push_back(kLBase + s / kNCount);
    out->push_back(kVBase + (s % kNCount) / kTCount);
    if (s % kTCount) out->push_back(kTBase + s % kTCount);
    return;
  }
  const uint32_t* row = FindRow(kDecompositions, kNumDecompositions, 3, cp, 0, false);
  if (!row) {
    out->push_back(cp);
    return;
  }
  Decompose(row[1], out);
  if (row[2]) Decompose(row[2], out);
}

// Returns the primary composite of (a, b), or 0.
uint32_t Compose(uint32_t a, uint32_t b) {
  if (a >= kLBase && a < kLBase + kLCount && b >= kVBase && b < kVBase + kVCount) {
    return kSBase + ((a - kLBase) * kVCount + (b - kVBase)) * kTCount;
  }
  if (a >= kSBase && a < kSBase + kSCount && (a - kSBase) % kTCount == 0 && b > kTBase &&
      b < kTBase + kTCount) {
    return a + (b - kTBase);
  }
  const uint32_t* row = FindRow(kCompositions, kNumCompositions, 3, a, b, true);
  return row ? row[2] : 0;
}

void CanonicalOrder(std::vector<uint32_t>* cps, std::vector<int>* classes) {
  classes->resize(cps->size());
  for (size_t i = 0; i < cps->size(); ++i) (*classes)[i] = CombiningClass((*cps)[i]);
  // Insertion sort keeps it stable; runs of combining marks are short.
  for (size_t i = 1; i < cps->size(); ++i) {
    size_t j = i;
    while (j > 0 && (*classes)[j] != 0 && (*classes)[j - 1] > (*classes)[j]) {
      std::swap((*classes)[j], (*classes)[j - 1]);
      std::swap((*cps)[j], (*cps)[j - 1]);
      --j;
    }
  }
}

}  // namespace

bool IsNfcQuick(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    if (Props(utf8::DecodeValid(s, &i)) & kNfcUnstableBit) return false;
  }
  return true;
}

std::string ToNfc(std::string_view s) {
  std::vector<uint32_t> cps;
  for (size_t i = 0; i < s.size();) Decompose(utf8::DecodeValid(s, &i), &cps);
  std::vector<int> classes;
  CanonicalOrder(&cps, &classes);
  std::vector<uint32_t> out;
  out.reserve(cps.size());
  int starter = -1;   // index in `out` of the last starter
  int last_cc = -1;   // class of the last char kept after the starter; -1: none yet
  for (size_t i = 0; i < cps.size(); ++i) {
    const uint32_t c = cps[i];
    const int cc = classes[i];
    const bool blocked = last_cc != -1 && (last_cc == 0 || last_cc >= cc);
    if (starter >= 0 && !blocked) {
      const uint32_t composite = Compose(out[starter], c);
      if (composite) {
        out[starter] = composite;
        continue;
      }
    }
    if (cc == 0) {
      starter = static_cast<int>(out.size());
      last_cc = -1;
    } else {
      last_cc = cc;
    }
    out.push_back(c);
  }
  std::string result;
  result.reserve(s.size());
  for (uint32_t c : out) utf8::Append(c, &result);
  return result;
}

}  // namespace corvid::unicode
