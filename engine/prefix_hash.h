// The identity of a full KV block for automatic prefix caching: a hash chained over the token
// ids of every block from the start of the sequence, so equal hashes mean equal prefixes (with
// 64-bit collision odds; the engine also compares the block's own tokens before reusing it).
// The scheduler computes the same chain from a prompt to route it to the worker that already
// holds its prefix; keep this function stable across the two (std only, no engine state).
#ifndef CORVID_ENGINE_PREFIX_HASH_H_
#define CORVID_ENGINE_PREFIX_HASH_H_

#include <cstdint>
#include <vector>

namespace corvid {

// The parent hash of a sequence's first block.
inline constexpr uint64_t kPrefixHashRoot = 0x636f72766964ull;

// Hash of a block holding tokens[0..n) whose predecessor block has hash `parent`.
uint64_t HashKvBlock(uint64_t parent, const int32_t* tokens, int n);

// Appends to `hashes` the chain of the full blocks of tokens[0..num_tokens) that it does not
// hold yet (it already holds the first hashes->size() of them).
void ExtendBlockHashes(const std::vector<int32_t>& tokens, int num_tokens, int block_size,
                       std::vector<uint64_t>* hashes);

}  // namespace corvid

#endif  // CORVID_ENGINE_PREFIX_HASH_H_
