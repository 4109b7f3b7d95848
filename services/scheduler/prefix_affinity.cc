#include "services/scheduler/prefix_affinity.h"

#include <algorithm>
#include <map>

#include "engine/prefix_hash.h"

namespace corvid::scheduler {

std::vector<uint64_t> PrefixAffinity::Chain(const std::vector<int32_t>& prompt, int block_size) {
  std::vector<uint64_t> chain;
  if (block_size < 1 || prompt.empty()) return chain;
  ExtendBlockHashes(prompt, static_cast<int>(prompt.size()) - 1, block_size, &chain);
  return chain;
}

int PrefixAffinity::MatchedBlocks(int worker, const std::vector<uint64_t>& chain) const {
  int n = 0;
  while (n < static_cast<int>(chain.size()) && index_.contains(Key{chain[n], worker})) ++n;
  return n;
}

int PrefixAffinity::Pick(const std::vector<const WorkerLoad*>& workers, int context_tokens,
                         const std::vector<int32_t>& prompt, int* matched_tokens) const {
  const int least = PickWorker(workers, context_tokens);
  if (matched_tokens != nullptr) *matched_tokens = 0;
  if (least < 0 || !options_.enabled) return least;
  const double ceiling = workers[least]->Utilization() + options_.max_load_gap;
  std::map<int, std::vector<uint64_t>> chains;  // per block size (normally one)
  int best = least, best_tokens = 0;
  double best_util = workers[least]->Utilization();
  for (int i = 0; i < static_cast<int>(workers.size()); ++i) {
    const WorkerLoad* w = workers[i];
    if (w == nullptr || !w->prefix_caching() || !w->Fits(context_tokens)) continue;
    const int bs = w->last_report().block_size;
    auto chain = chains.find(bs);
    if (chain == chains.end()) chain = chains.emplace(bs, Chain(prompt, bs)).first;
    const int tokens = MatchedBlocks(i, chain->second) * bs;
    const double util = w->Utilization();
    if (tokens == 0 || util > ceiling) continue;
    // Longest match first; among equal matches the less loaded.
    if (tokens > best_tokens || (tokens == best_tokens && util < best_util)) {
      best = i;
      best_tokens = tokens;
      best_util = util;
    }
  }
  if (matched_tokens != nullptr) *matched_tokens = best_tokens;
  return best;
}

void PrefixAffinity::Record(int worker, const WorkerLoad& load,
                            const std::vector<int32_t>& prompt) {
  if (!options_.enabled || !load.prefix_caching() || options_.max_entries < 1) return;
  for (uint64_t hash : Chain(prompt, load.last_report().block_size)) {
    const Key key{hash, worker};
    auto it = index_.find(key);
    if (it != index_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second);  // refresh
      continue;
    }
    lru_.push_front(key);
    index_[key] = lru_.begin();
    if (static_cast<int>(lru_.size()) > options_.max_entries) {
      index_.erase(lru_.back());
      lru_.pop_back();
    }
  }
}

void PrefixAffinity::ForgetWorker(int worker) {
  for (auto it = lru_.begin(); it != lru_.end();) {
    if (it->second == worker) {
      index_.erase(*it);
      it = lru_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace corvid::scheduler
