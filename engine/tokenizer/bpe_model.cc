#include "engine/tokenizer/bpe_model.h"

#include <algorithm>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/tokenizer/byte_level.h"
#include "engine/tokenizer/utf8.h"

namespace corvid {

absl::StatusOr<std::unique_ptr<BpeModel>> BpeModel::Create(
    absl::flat_hash_map<std::string, int32_t> vocab,
    const std::vector<std::pair<std::string, std::string>>& merges, const BpeOptions& options,
    const std::vector<int32_t>* ranks) {
  std::unique_ptr<BpeModel> model(new BpeModel());
  model->options_ = options;
  model->vocab_ = std::move(vocab);
  const auto& v = model->vocab_;
  for (int b = 0; b < 256; ++b) {
    auto it = v.find(std::string(1, static_cast<char>(b)));
    model->byte_ids_[b] = it == v.end() ? -1 : it->second;
    it = v.find(absl::StrFormat("<0x%02X>", b));
    model->fallback_ids_[b] = it == v.end() ? -1 : it->second;
  }
  model->merges_.reserve(merges.size());
  std::string a, b, joined;  // reused: no allocation per merge
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    if (!options.byte_level) {
      a = merges[rank].first;
      b = merges[rank].second;
    } else if (!byte_level::ToBytes(merges[rank].first, &a) ||
               !byte_level::ToBytes(merges[rank].second, &b)) {
      continue;
    }
    auto ia = v.find(a), ib = v.find(b);
    joined.assign(a).append(b);
    auto ij = v.find(joined);
    if (ia == v.end() || ib == v.end() || ij == v.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("BPE merge #", rank, " uses a token missing from the vocabulary"));
    }
    // Like `tokenizers`, a repeated pair keeps its last rank.
    model->merges_.insert_or_assign(PairKey(ia->second, ib->second),
                                    Merge{ranks ? (*ranks)[rank] : static_cast<int32_t>(rank),
                                          ij->second});
  }
  model->cache_ = std::make_unique<CacheShard[]>(kCacheShards);
  return model;
}

void BpeModel::InitialSymbols(std::string_view word, std::vector<int32_t>* symbols) const {
  symbols->clear();
  if (options_.byte_level) {
    bool complete = true;
    for (unsigned char b : word) {
      symbols->push_back(byte_ids_[b]);
      complete &= byte_ids_[b] >= 0;
    }
    if (complete) return;
    symbols->clear();  // a byte-level vocabulary without some byte: take the general path
  }
  int32_t pending_unk = -1;  // tokenizers defers an unknown so that it can fuse the next one
  for (size_t i = 0; i < word.size();) {
    const size_t begin = i;
    i += utf8::LeadLength(static_cast<unsigned char>(word[i]));
    const std::string_view ch = word.substr(begin, i - begin);
    auto it = vocab_.find(utf8::AsAbsl(ch));
    if (it != vocab_.end()) {
      if (pending_unk >= 0) symbols->push_back(pending_unk);
      pending_unk = -1;
      symbols->push_back(it->second);
      continue;
    }
    if (options_.byte_fallback) {
      bool all = true;
      for (unsigned char b : ch) all &= fallback_ids_[b] >= 0;
      if (all) {
        for (unsigned char b : ch) symbols->push_back(fallback_ids_[b]);
        continue;
      }
    }
    if (options_.unk_id < 0) continue;  // tokenizers drops it silently
    if (pending_unk >= 0 && !options_.fuse_unk) symbols->push_back(pending_unk);
    pending_unk = options_.unk_id;
  }
  if (pending_unk >= 0) symbols->push_back(pending_unk);
}

// Mirrors tokenizers' Word::merge_all: a min-heap on (rank, position); an entry is stale when
// the pair now at its position no longer merges into the entry's token.
void BpeModel::MergeSymbols(std::vector<int32_t>* symbols) const {
  std::vector<int32_t>& sym = *symbols;
  const int n = static_cast<int>(sym.size());
  if (n < 2) return;
  struct Entry {
    int32_t rank, pos, new_id;
    bool operator<(const Entry& o) const {  // heap top = lowest (rank, pos)
      return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
  };
  thread_local std::vector<int32_t> prev, next;
  thread_local std::vector<Entry> heap;
  prev.resize(n);
  next.resize(n);
  heap.clear();
  auto push = [](Entry e) {
    heap.push_back(e);
    std::push_heap(heap.begin(), heap.end());
  };
  for (int i = 0; i < n; ++i) {
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
    if (i + 1 < n) {
      auto it = merges_.find(PairKey(sym[i], sym[i + 1]));
      if (it != merges_.end()) push({it->second.rank, i, it->second.new_id});
    }
  }
  constexpr int32_t kDead = -2;
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end());
    const Entry top = heap.back();
    heap.pop_back();
    if (sym[top.pos] == kDead || next[top.pos] < 0) continue;
    const int right = next[top.pos];
    auto it = merges_.find(PairKey(sym[top.pos], sym[right]));
    if (it == merges_.end() || it->second.new_id != top.new_id) continue;
    sym[top.pos] = top.new_id;
    sym[right] = kDead;
    next[top.pos] = next[right];
    if (next[right] >= 0) prev[next[right]] = top.pos;
    if (prev[top.pos] >= 0) {
      auto p = merges_.find(PairKey(sym[prev[top.pos]], sym[top.pos]));
      if (p != merges_.end()) push({p->second.rank, prev[top.pos], p->second.new_id});
    }
    if (next[top.pos] >= 0) {
      auto q = merges_.find(PairKey(sym[top.pos], sym[next[top.pos]]));
      if (q != merges_.end()) push({q->second.rank, top.pos, q->second.new_id});
    }
  }
  int w = 0;
  for (int i = 0; i < n; ++i) {
    if (sym[i] != kDead) sym[w++] = sym[i];
  }
  sym.resize(w);
}

bool BpeModel::CacheLookup(std::string_view word, std::vector<int32_t>* ids) const {
  CacheShard& shard = cache_[absl::Hash<absl::string_view>()(utf8::AsAbsl(word)) % kCacheShards];
  absl::ReaderMutexLock lock(&shard.mu);
  auto it = shard.map.find(utf8::AsAbsl(word));
  if (it == shard.map.end()) return false;
  ids->insert(ids->end(), it->second.begin(), it->second.end());
  return true;
}

void BpeModel::CacheInsert(std::string_view word, const int32_t* ids, size_t n) const {
  CacheShard& shard = cache_[absl::Hash<absl::string_view>()(utf8::AsAbsl(word)) % kCacheShards];
  absl::MutexLock lock(&shard.mu);
  // Dropping everything when full keeps the bound without LRU bookkeeping; hot pre-tokens
  // come back within a few calls.
  if (shard.map.size() >= kCacheShardCapacity) shard.map.clear();
  shard.map.try_emplace(std::string(word), ids, ids + n);
}

void BpeModel::Encode(std::string_view word, std::vector<int32_t>* ids) const {
  if (word.empty()) return;
  if (options_.ignore_merges) {
    auto it = vocab_.find(utf8::AsAbsl(word));
    if (it != vocab_.end()) {
      ids->push_back(it->second);
      return;
    }
  }
  const bool cacheable = word.size() <= kMaxCachedWordBytes;
  if (cacheable && CacheLookup(word, ids)) return;
  thread_local std::vector<int32_t> symbols;
  InitialSymbols(word, &symbols);
  MergeSymbols(&symbols);
  ids->insert(ids->end(), symbols.begin(), symbols.end());
  if (cacheable) CacheInsert(word, symbols.data(), symbols.size());
}

}  // namespace corvid
