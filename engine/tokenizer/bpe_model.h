// Byte-pair encoding of one pre-token: merges applied by rank (lowest first, leftmost on ties,
// exactly as Hugging Face `tokenizers`), with a bounded cache of recent pre-tokens.
#ifndef CORVID_ENGINE_TOKENIZER_BPE_MODEL_H_
#define CORVID_ENGINE_TOKENIZER_BPE_MODEL_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace corvid {

struct BpeOptions {
  // Initial symbols are single bytes (byte-level BPE) rather than code points.
  bool byte_level = false;
  // Code points missing from the vocabulary become their <0xXX> byte tokens.
  bool byte_fallback = false;
  // A pre-token that is itself in the vocabulary is emitted whole, merges aside.
  bool ignore_merges = false;
  int32_t unk_id = -1;  // -1: none
  bool fuse_unk = false;
};

class BpeModel {
 public:
  // `vocab` maps each token's symbol string (raw bytes for byte-level BPE) to its id; `merges`
  // lists pairs of token strings in rank order, in the byte-level alphabet when
  // options.byte_level (merges of tokens outside it can never apply and are skipped).
  // INVALID_ARGUMENT for a merge whose parts or result are not in the vocabulary. `ranks`, when
  // given, holds each merge's rank (equal ranks tie-break by position, as sentencepiece's
  // equal scores do); otherwise a merge's rank is its index.
  static absl::StatusOr<std::unique_ptr<BpeModel>> Create(
      absl::flat_hash_map<std::string, int32_t> vocab,
      const std::vector<std::pair<std::string, std::string>>& merges, const BpeOptions& options,
      const std::vector<int32_t>* ranks = nullptr);

  // Appends the ids of `word` (one pre-token) to *ids.
  void Encode(std::string_view word, std::vector<int32_t>* ids) const;

  const absl::flat_hash_map<std::string, int32_t>& vocab() const { return vocab_; }

 private:
  struct Merge {
    int32_t rank;
    int32_t new_id;
  };
  static uint64_t PairKey(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  BpeModel() = default;
  // Initial symbols of `word`, before any merge.
  void InitialSymbols(std::string_view word, std::vector<int32_t>* symbols) const;
  void MergeSymbols(std::vector<int32_t>* symbols) const;
  bool CacheLookup(std::string_view word, std::vector<int32_t>* ids) const;
  void CacheInsert(std::string_view word, const int32_t* ids, size_t n) const;

  BpeOptions options_;
  absl::flat_hash_map<std::string, int32_t> vocab_;
  absl::flat_hash_map<uint64_t, Merge> merges_;
  std::array<int32_t, 256> byte_ids_{};      // byte-level: id of each single-byte symbol
  std::array<int32_t, 256> fallback_ids_{};  // byte_fallback: id of <0xXX>, -1 if absent

  // Sharded so that concurrent Encode calls rarely contend.
  static constexpr int kCacheShards = 16;
  static constexpr size_t kCacheShardCapacity = 8192;
  static constexpr size_t kMaxCachedWordBytes = 64;
  struct CacheShard {
    mutable absl::Mutex mu;
    absl::flat_hash_map<std::string, std::vector<int32_t>> map ABSL_GUARDED_BY(mu);
  };
  std::unique_ptr<CacheShard[]> cache_;
};

}  // namespace corvid

#endif  // CORVID_ENGINE_TOKENIZER_BPE_MODEL_H_
