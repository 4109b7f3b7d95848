// Paged KV-cache accounting: which fixed-size blocks each sequence owns. Pure host logic, no
// storage (the backend owns the KV memory; see backend.h). Not thread-safe: the engine thread
// owns it.
//
// A sequence's table reserves `NumTokens(seq)` token slots: token position p lives in block
// BlockTable(seq)[p / block_size()] at slot p % block_size(). Blocks carry reference counts so
// that a block may later be shared (prefix caching); today every owner holds one reference and a
// block returns to the free list when its count drops to zero.
#ifndef CORVID_ENGINE_KV_BLOCK_MANAGER_H_
#define CORVID_ENGINE_KV_BLOCK_MANAGER_H_

#include <cstdint>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"

namespace corvid {

class KvBlockManager {
 public:
  // num_blocks >= 0, block_size >= 1 (checked: a violation aborts).
  KvBlockManager(int num_blocks, int block_size);

  int block_size() const { return block_size_; }
  int num_blocks() const { return static_cast<int>(ref_counts_.size()); }
  int num_free_blocks() const { return static_cast<int>(free_blocks_.size()); }
  int num_sequences() const { return static_cast<int>(tables_.size()); }
  // Blocks needed to hold `num_tokens` slots.
  int BlocksFor(int num_tokens) const;

  // Whether a new sequence of `num_tokens` slots fits in the free blocks now.
  bool CanAllocate(int num_tokens) const;
  // Creates `seq_id`'s table with room for `num_tokens` slots. FAILED_PRECONDITION when the
  // sequence already has a table, RESOURCE_EXHAUSTED when !CanAllocate (nothing changes then).
  absl::Status Allocate(int64_t seq_id, int num_tokens);

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
  // each block, the free list holds exactly the blocks with count 0 (once each), and every
  // table has exactly BlocksFor(NumTokens) blocks. INTERNAL naming the first violation.
  absl::Status CheckInvariants() const;

 private:
  struct Table {
    std::vector<int32_t> blocks;
    int num_tokens = 0;
  };
  int32_t TakeFreeBlock();
  void DebugCheck() const;

  int block_size_;
  std::vector<int32_t> ref_counts_;   // [num_blocks]
  std::vector<int32_t> free_blocks_;  // stack: the most recently freed block is reused first
  absl::flat_hash_map<int64_t, Table> tables_;
};

}  // namespace corvid

#endif  // CORVID_ENGINE_KV_BLOCK_MANAGER_H_
