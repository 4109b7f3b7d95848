// Paged KV-cache accounting: which fixed-size blocks each sequence owns. Pure host logic, no
// storage (the backend owns the KV memory; see backend.h). Not thread-safe: the engine thread
// owns it.
//
// A sequence's table reserves `NumTokens(seq)` token slots: token position p lives in block
// BlockTable(seq)[p / block_size()] at slot p % block_size(). Blocks carry reference counts: a
// block may be named by several tables (prefix caching) and is free when its count is zero.
//
// Prefix caching (when enabled): a full block whose KV has been computed can be registered
// under its chain hash (engine/prefix_hash.h). A new sequence may then start its table with the
// longest run of registered blocks matching its prefix (MatchPrefix + Allocate), sharing them.
// Shared blocks are never written: the engine only registers full, computed blocks and only
// computes positions past the shared ones. A registered block whose count drops to zero stays
// registered and *evictable*: it counts as free, and is reused for other content, least
// recently released first, only once no never-registered free block is left.
#ifndef CORVID_ENGINE_KV_BLOCK_MANAGER_H_
#define CORVID_ENGINE_KV_BLOCK_MANAGER_H_

#include <cstdint>
#include <vector>

#include <set>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"

namespace corvid {

class KvBlockManager {
 public:
  using TokenAt = absl::FunctionRef<int32_t(int)>;  // token id at a position of a sequence

  // num_blocks >= 0, block_size >= 1 (checked: a violation aborts).
  KvBlockManager(int num_blocks, int block_size, bool enable_prefix_caching = false);

  int block_size() const { return block_size_; }
  bool prefix_caching() const { return prefix_caching_; }
  int num_blocks() const { return static_cast<int>(ref_counts_.size()); }
  // Blocks no table names: never-registered ones plus evictable cached ones.
  int num_free_blocks() const {
    return static_cast<int>(free_blocks_.size() + evictable_.size());
  }
  // Registered blocks (in use or evictable), and those of them no table names.
  int num_cached_blocks() const { return static_cast<int>(cached_.size()); }
  int num_evictable_blocks() const { return static_cast<int>(evictable_.size()); }
  int num_sequences() const { return static_cast<int>(tables_.size()); }
  int RefCount(int32_t block) const { return ref_counts_[block]; }
  bool IsCached(int32_t block) const { return cache_[block].registered; }
  // Blocks needed to hold `num_tokens` slots.
  int BlocksFor(int num_tokens) const;

  // The longest run of registered blocks for the first `max_blocks` full blocks of a sequence
  // whose chain hashes are `hashes` (at least max_blocks of them) and whose tokens token_at
  // gives; each block's own tokens and parent hash are compared too. Empty when disabled.
  std::vector<int32_t> MatchPrefix(const std::vector<uint64_t>& hashes, int max_blocks,
                                   TokenAt token_at) const;
  // Whether a new sequence of `num_tokens` slots whose table starts with the cached blocks
  // `prefix` (from MatchPrefix, unchanged since) fits in the free blocks now.
  bool CanAllocate(int num_tokens, const std::vector<int32_t>& prefix = {}) const;
  // Creates `seq_id`'s table with room for `num_tokens` slots, sharing `prefix` (one more
  // reference each) and taking fresh blocks for the rest. FAILED_PRECONDITION when the sequence
  // already has a table or `prefix` is not a run of cached blocks shorter than the table,
  // RESOURCE_EXHAUSTED when !CanAllocate (nothing changes then).
  absl::Status Allocate(int64_t seq_id, int num_tokens,
                        const std::vector<int32_t>& prefix = {});

  // Registers block `index` of `seq_id`'s table, which must be full and computed, as holding
  // the tokens token_at(index * block_size ..) after a block of hash `parent`, under `hash`.
  // No-op when disabled, when the block is registered already, or when another block holds
  // that hash (the block then stays private and is simply freed later).
  void CacheBlock(int64_t seq_id, int index, uint64_t parent, uint64_t hash, TokenAt token_at);
  // Forgets every registration (e.g. after a failed step whose KV may be damaged).
  void ClearCache();

  // Whether `seq_id` can grow by `num_new_tokens` slots (false for an unknown sequence).
  bool CanAppend(int64_t seq_id, int num_new_tokens = 1) const;
  // Grows `seq_id`'s reservation by `num_new_tokens`, taking new blocks only when the last one
  // is full. NOT_FOUND for an unknown sequence, RESOURCE_EXHAUSTED when !CanAppend.
  absl::Status Append(int64_t seq_id, int num_new_tokens = 1);

  // Drops `seq_id`'s references and forgets its table. Unknown ids are ignored.
  void Free(int64_t seq_id);

  bool Has(int64_t seq_id) const { return tables_.contains(seq_id); }
  // Reserved slots of `seq_id` (0 when unknown).
  int NumTokens(int64_t seq_id) const;
  // The block ids of `seq_id`, in position order (empty when unknown).
  const std::vector<int32_t>& BlockTable(int64_t seq_id) const;

  // CSR export for a StepBatch: appends the blocks covering the first `context_len` positions
  // of `seq_id` to `indices` and the new end offset to `indptr` (which must already hold the
  // start offset, i.e. begin as {0}). context_len must not exceed NumTokens(seq_id).
  absl::Status AppendToCsr(int64_t seq_id, int context_len, std::vector<int32_t>* indptr,
                           std::vector<int32_t>* indices) const;
  // Tokens used in the last page of a `context_len`-token sequence (FlashInfer's
  // last_page_len); 0 only when context_len is 0.
  int LastPageLen(int context_len) const;

  // Every invariant, checked from scratch: ref counts equal the number of table entries naming
  // each block (never negative), the free list and the evictable set together hold exactly the
  // blocks with count 0 (once each; evictable ones registered, the others not), the hash index
  // names exactly the registered blocks, and every table has exactly BlocksFor(NumTokens)
  // blocks. INTERNAL naming the first violation.
  absl::Status CheckInvariants() const;

 private:
  struct Table {
    std::vector<int32_t> blocks;
    int num_tokens = 0;
  };
  struct CacheEntry {
    bool registered = false;
    uint64_t hash = 0;
    uint64_t parent = 0;
    uint64_t released_at = 0;  // LRU tick while evictable
  };
  int32_t TakeFreeBlock();
  void Unregister(int32_t block);
  bool SameTokens(int32_t block, int index, TokenAt token_at) const;
  absl::Status CheckCache(const std::vector<bool>& in_free_list) const;
  void DebugCheck() const;

  int block_size_;
  bool prefix_caching_;
  std::vector<int32_t> ref_counts_;   // [num_blocks]
  std::vector<int32_t> free_blocks_;  // unregistered, stack: the last freed is reused first
  absl::flat_hash_map<int64_t, Table> tables_;
  // Prefix cache: per-block registration, the tokens of registered blocks, the hash index, and
  // the evictable (registered, unreferenced) blocks ordered by release time.
  std::vector<CacheEntry> cache_;       // [num_blocks]
  std::vector<int32_t> block_tokens_;   // [num_blocks * block_size] when enabled
  absl::flat_hash_map<uint64_t, int32_t> cached_;  // hash -> block
  std::set<std::pair<uint64_t, int32_t>> evictable_;
  uint64_t tick_ = 0;
};

}  // namespace corvid

#endif  // CORVID_ENGINE_KV_BLOCK_MANAGER_H_
