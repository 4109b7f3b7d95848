#include "engine/kv_block_manager.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "engine/prefix_hash.h"

namespace corvid {
namespace {

const std::vector<int32_t>& EmptyTable() {
  static const auto* empty = new std::vector<int32_t>();
  return *empty;
}

}  // namespace

KvBlockManager::KvBlockManager(int num_blocks, int block_size, bool enable_prefix_caching)
    : block_size_(block_size), prefix_caching_(enable_prefix_caching) {
  if (num_blocks < 0 || block_size < 1) {
    std::fprintf(stderr, "KvBlockManager: bad geometry num_blocks=%d block_size=%d\n", num_blocks,
                 block_size);
    std::abort();
  }
  ref_counts_.assign(num_blocks, 0);
  cache_.assign(num_blocks, CacheEntry{});
  if (prefix_caching_) block_tokens_.assign(static_cast<size_t>(num_blocks) * block_size, 0);
  free_blocks_.reserve(num_blocks);
  // Pushed in reverse so that a fresh manager hands out block 0 first (easier to read in logs).
  for (int b = num_blocks - 1; b >= 0; --b) free_blocks_.push_back(b);
}

int KvBlockManager::BlocksFor(int num_tokens) const {
  return num_tokens <= 0 ? 0 : (num_tokens + block_size_ - 1) / block_size_;
}

bool KvBlockManager::CanAllocate(int num_tokens, const std::vector<int32_t>& prefix) const {
  const int fresh = BlocksFor(num_tokens) - static_cast<int>(prefix.size());
  if (num_tokens < 0 || fresh < 0) return false;
  // A matched block that is evictable leaves the free pool too.
  int revived = 0;
  for (int32_t b : prefix) revived += ref_counts_[b] == 0 ? 1 : 0;
  return fresh + revived <= num_free_blocks();
}

int32_t KvBlockManager::TakeFreeBlock() {
  int32_t block;
  if (!free_blocks_.empty()) {
    block = free_blocks_.back();
    free_blocks_.pop_back();
  } else {
    // Only cached content is left: evict the least recently released block.
    block = evictable_.begin()->second;
    evictable_.erase(evictable_.begin());
    Unregister(block);
  }
  ref_counts_[block] = 1;
  return block;
}

void KvBlockManager::Unregister(int32_t block) {
  CacheEntry& entry = cache_[block];
  auto it = cached_.find(entry.hash);
  if (it != cached_.end() && it->second == block) cached_.erase(it);
  entry = CacheEntry{};
}

std::vector<int32_t> KvBlockManager::MatchPrefix(const std::vector<uint64_t>& hashes,
                                                 int max_blocks, TokenAt token_at) const {
  std::vector<int32_t> prefix;
  if (!prefix_caching_) return prefix;
  const int n = std::min(max_blocks, static_cast<int>(hashes.size()));
  for (int i = 0; i < n; ++i) {
    auto it = cached_.find(hashes[i]);
    if (it == cached_.end()) break;
    const int32_t block = it->second;
    const uint64_t parent = i == 0 ? kPrefixHashRoot : hashes[i - 1];
    if (cache_[block].parent != parent || !SameTokens(block, i, token_at)) break;
    prefix.push_back(block);
  }
  return prefix;
}

bool KvBlockManager::SameTokens(int32_t block, int index, TokenAt token_at) const {
  const int32_t* stored = block_tokens_.data() + static_cast<size_t>(block) * block_size_;
  for (int s = 0; s < block_size_; ++s) {
    if (stored[s] != token_at(index * block_size_ + s)) return false;
  }
  return true;
}

absl::Status KvBlockManager::Allocate(int64_t seq_id, int num_tokens,
                                      const std::vector<int32_t>& prefix) {
  if (tables_.contains(seq_id)) {
    return absl::FailedPreconditionError(
        absl::StrCat("KV blocks: sequence ", seq_id, " already has a block table"));
  }
  for (int32_t b : prefix) {
    if (b < 0 || b >= num_blocks() || !cache_[b].registered) {
      return absl::FailedPreconditionError(
          absl::StrCat("KV blocks: prefix block ", b, " of sequence ", seq_id, " is not cached"));
    }
  }
  if (!CanAllocate(num_tokens, prefix)) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "KV blocks: sequence ", seq_id, " needs ", BlocksFor(num_tokens), " blocks for ",
        num_tokens, " tokens (", prefix.size(), " cached), ", num_free_blocks(), " free"));
  }
  Table& table = tables_[seq_id];
  table.num_tokens = num_tokens;
  const int needed = BlocksFor(num_tokens);
  table.blocks.reserve(needed);
  // Shared blocks are taken first so that fresh allocations cannot evict them.
  for (int32_t b : prefix) {
    if (ref_counts_[b]++ == 0) evictable_.erase({cache_[b].released_at, b});
    table.blocks.push_back(b);
  }
  while (static_cast<int>(table.blocks.size()) < needed) table.blocks.push_back(TakeFreeBlock());
  DebugCheck();
  return absl::OkStatus();
}

void KvBlockManager::CacheBlock(int64_t seq_id, int index, uint64_t parent, uint64_t hash,
                                TokenAt token_at) {
  if (!prefix_caching_) return;
  auto it = tables_.find(seq_id);
  if (it == tables_.end() || index < 0 || index >= static_cast<int>(it->second.blocks.size()) ||
      (index + 1) * block_size_ > it->second.num_tokens) {
    return;
  }
  const int32_t block = it->second.blocks[index];
  if (cache_[block].registered || cached_.contains(hash)) return;
  cache_[block] = CacheEntry{true, hash, parent, 0};
  cached_[hash] = block;
  int32_t* stored = block_tokens_.data() + static_cast<size_t>(block) * block_size_;
  for (int s = 0; s < block_size_; ++s) stored[s] = token_at(index * block_size_ + s);
}

void KvBlockManager::ClearCache() {
  for (const auto& [tick, block] : evictable_) free_blocks_.push_back(block);
  evictable_.clear();
  cached_.clear();
  for (CacheEntry& entry : cache_) entry = CacheEntry{};
  DebugCheck();
}

bool KvBlockManager::CanAppend(int64_t seq_id, int num_new_tokens) const {
  auto it = tables_.find(seq_id);
  if (it == tables_.end() || num_new_tokens < 0) return false;
  const Table& table = it->second;
  const int extra = BlocksFor(table.num_tokens + num_new_tokens) -
                    static_cast<int>(table.blocks.size());
  return extra <= num_free_blocks();
}

absl::Status KvBlockManager::Append(int64_t seq_id, int num_new_tokens) {
  auto it = tables_.find(seq_id);
  if (it == tables_.end()) {
    return absl::NotFoundError(absl::StrCat("KV blocks: unknown sequence ", seq_id));
  }
  if (!CanAppend(seq_id, num_new_tokens)) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "KV blocks: sequence ", seq_id, " cannot grow by ", num_new_tokens, " tokens, ",
        num_free_blocks(), " blocks free"));
  }
  Table& table = it->second;
  table.num_tokens += num_new_tokens;
  while (static_cast<int>(table.blocks.size()) < BlocksFor(table.num_tokens)) {
    table.blocks.push_back(TakeFreeBlock());
  }
  DebugCheck();
  return absl::OkStatus();
}

void KvBlockManager::Free(int64_t seq_id) {
  auto it = tables_.find(seq_id);
  if (it == tables_.end()) return;
  // Released last block first so that the stack hands the blocks back in table order, and so
  // that a sequence's tail is evicted before its (more shareable) head.
  const std::vector<int32_t>& blocks = it->second.blocks;
  for (auto b = blocks.rbegin(); b != blocks.rend(); ++b) {
    if (--ref_counts_[*b] > 0) continue;
    if (cache_[*b].registered) {
      cache_[*b].released_at = tick_++;
      evictable_.insert({cache_[*b].released_at, *b});
    } else {
      free_blocks_.push_back(*b);
    }
  }
  tables_.erase(it);
  DebugCheck();
}

int KvBlockManager::NumTokens(int64_t seq_id) const {
  auto it = tables_.find(seq_id);
  return it == tables_.end() ? 0 : it->second.num_tokens;
}

const std::vector<int32_t>& KvBlockManager::BlockTable(int64_t seq_id) const {
  auto it = tables_.find(seq_id);
  return it == tables_.end() ? EmptyTable() : it->second.blocks;
}

absl::Status KvBlockManager::AppendToCsr(int64_t seq_id, int context_len,
                                         std::vector<int32_t>* indptr,
                                         std::vector<int32_t>* indices) const {
  auto it = tables_.find(seq_id);
  if (it == tables_.end()) {
    return absl::NotFoundError(absl::StrCat("KV blocks: unknown sequence ", seq_id));
  }
  if (context_len < 0 || context_len > it->second.num_tokens || indptr->empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "KV blocks: sequence ", seq_id, " has ", it->second.num_tokens,
        " slots reserved, cannot export ", context_len, " (or indptr lacks its start offset)"));
  }
  const int n = BlocksFor(context_len);
  indices->insert(indices->end(), it->second.blocks.begin(), it->second.blocks.begin() + n);
  indptr->push_back(static_cast<int32_t>(indices->size()));
  return absl::OkStatus();
}

int KvBlockManager::LastPageLen(int context_len) const {
  if (context_len <= 0) return 0;
  return (context_len - 1) % block_size_ + 1;
}

absl::Status KvBlockManager::CheckInvariants() const {
  std::vector<int32_t> counted(ref_counts_.size(), 0);
  for (const auto& [seq_id, table] : tables_) {
    if (static_cast<int>(table.blocks.size()) != BlocksFor(table.num_tokens)) {
      return absl::InternalError(absl::StrCat("KV blocks: sequence ", seq_id, " holds ",
                                              table.blocks.size(), " blocks for ",
                                              table.num_tokens, " tokens"));
    }
    for (int32_t b : table.blocks) {
      if (b < 0 || b >= num_blocks()) {
        return absl::InternalError(absl::StrCat("KV blocks: bad block id ", b));
      }
      ++counted[b];
    }
  }
  std::vector<bool> in_free_list(ref_counts_.size(), false);
  for (int32_t b : free_blocks_) {
    if (b < 0 || b >= num_blocks() || in_free_list[b] || cache_[b].registered) {
      return absl::InternalError(absl::StrCat("KV blocks: free list holds block ", b,
                                              " twice, out of range or registered"));
    }
    in_free_list[b] = true;
  }
  for (const auto& [tick, b] : evictable_) {
    if (b < 0 || b >= num_blocks() || in_free_list[b] || !cache_[b].registered ||
        cache_[b].released_at != tick) {
      return absl::InternalError(absl::StrCat("KV blocks: evictable block ", b,
                                              " is free twice, unregistered or misordered"));
    }
    in_free_list[b] = true;
  }
  for (int b = 0; b < num_blocks(); ++b) {
    if (counted[b] != ref_counts_[b]) {
      return absl::InternalError(absl::StrCat("KV blocks: block ", b, " has ref count ",
                                              ref_counts_[b], " but ", counted[b], " owners"));
    }
    if (in_free_list[b] != (ref_counts_[b] == 0)) {
      return absl::InternalError(absl::StrCat("KV blocks: block ", b, " with ref count ",
                                              ref_counts_[b], in_free_list[b] ? " is" : " is not",
                                              " on the free list"));
    }
  }
  return CheckCache(in_free_list);
}

absl::Status KvBlockManager::CheckCache(const std::vector<bool>& in_free_list) const {
  if (!prefix_caching_ && !cached_.empty()) {
    return absl::InternalError("KV blocks: prefix caching is off but blocks are cached");
  }
  size_t registered = 0;
  for (int b = 0; b < num_blocks(); ++b) {
    if (!cache_[b].registered) continue;
    ++registered;
    auto it = cached_.find(cache_[b].hash);
    if (it == cached_.end() || it->second != b) {
      return absl::InternalError(absl::StrCat("KV blocks: cached block ", b,
                                              " is missing from the hash index"));
    }
    if (ref_counts_[b] == 0 && !in_free_list[b]) {
      return absl::InternalError(absl::StrCat("KV blocks: cached block ", b, " is lost"));
    }
  }
  if (registered != cached_.size()) {
    return absl::InternalError(absl::StrCat("KV blocks: hash index holds ", cached_.size(),
                                            " blocks, ", registered, " are registered"));
  }
  return absl::OkStatus();
}

void KvBlockManager::DebugCheck() const {
#ifndef NDEBUG
  const absl::Status status = CheckInvariants();
  if (!status.ok()) {
    std::fprintf(stderr, "%s\n", status.ToString().c_str());
    std::abort();
  }
#endif
}

}  // namespace corvid
