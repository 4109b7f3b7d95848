#include "engine/prefix_hash.h"

namespace corvid {
namespace {

// SplitMix64's finalizer: every input bit affects every output bit.
uint64_t Mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace

uint64_t HashKvBlock(uint64_t parent, const int32_t* tokens, int n) {
  // The length is mixed in first so that blocks of different sizes never alias.
  uint64_t h = Mix64(parent ^ (0x9e3779b97f4a7c15ull * static_cast<uint64_t>(n + 1)));
  for (int i = 0; i < n; ++i) {
    h = Mix64(h + 0x9e3779b97f4a7c15ull + static_cast<uint32_t>(tokens[i]));
  }
  return h;
}

void ExtendBlockHashes(const std::vector<int32_t>& tokens, int num_tokens, int block_size,
                       std::vector<uint64_t>* hashes) {
  if (block_size < 1) return;
  const int full = num_tokens / block_size;
  for (int b = static_cast<int>(hashes->size()); b < full; ++b) {
    const uint64_t parent = b == 0 ? kPrefixHashRoot : (*hashes)[b - 1];
    hashes->push_back(HashKvBlock(parent, tokens.data() + b * block_size, block_size));
  }
}

}  // namespace corvid
