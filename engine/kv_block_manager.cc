#include "engine/kv_block_manager.h"

#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace corvid {
namespace {

const std::vector<int32_t>& EmptyTable() {
  static const auto* empty = new std::vector<int32_t>();
  return *empty;
}

}  // namespace

KvBlockManager::KvBlockManager(int num_blocks, int block_size) : block_size_(block_size) {
  if (num_blocks < 0 || block_size < 1) {
    std::fprintf(stderr, "KvBlockManager: bad geometry num_blocks=%d block_size=%d\n", num_blocks,
                 block_size);
    std::abort();
  }
  ref_counts_.assign(num_blocks, 0);
  free_blocks_.reserve(num_blocks);
  // Pushed in reverse so that a fresh manager hands out block 0 first (easier to read in logs).
  for (int b = num_blocks - 1; b >= 0; --b) free_blocks_.push_back(b);
}

int KvBlockManager::BlocksFor(int num_tokens) const {
  return num_tokens <= 0 ? 0 : (num_tokens + block_size_ - 1) / block_size_;
}

bool KvBlockManager::CanAllocate(int num_tokens) const {
  return num_tokens >= 0 && BlocksFor(num_tokens) <= num_free_blocks();
}

int32_t KvBlockManager::TakeFreeBlock() {
  const int32_t block = free_blocks_.back();
  free_blocks_.pop_back();
  ref_counts_[block] = 1;
  return block;
}

absl::Status KvBlockManager::Allocate(int64_t seq_id, int num_tokens) {
  if (tables_.contains(seq_id)) {
    return absl::FailedPreconditionError(
        absl::StrCat("KV blocks: sequence ", seq_id, " already has a block table"));
  }
  if (!CanAllocate(num_tokens)) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "KV blocks: sequence ", seq_id, " needs ", BlocksFor(num_tokens), " blocks for ",
        num_tokens, " tokens, ", num_free_blocks(), " free"));
  }
  Table& table = tables_[seq_id];
  table.num_tokens = num_tokens;
  const int needed = BlocksFor(num_tokens);
  table.blocks.reserve(needed);
  for (int i = 0; i < needed; ++i) table.blocks.push_back(TakeFreeBlock());
  DebugCheck();
  return absl::OkStatus();
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
  // Released last block first so that the stack hands the blocks back in table order.
  const std::vector<int32_t>& blocks = it->second.blocks;
  for (auto b = blocks.rbegin(); b != blocks.rend(); ++b) {
    if (--ref_counts_[*b] == 0) free_blocks_.push_back(*b);
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
    if (b < 0 || b >= num_blocks() || in_free_list[b]) {
      return absl::InternalError(absl::StrCat("KV blocks: free list holds block ", b,
                                              " twice or out of range"));
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
