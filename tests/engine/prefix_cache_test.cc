// Automatic prefix caching: the block manager's hash index, sharing and LRU eviction, and the
// engine over the fake backend (which checks that every context slot read holds the right token
// and that no step writes a slot the batch reads as context).
#include <map>
#include <random>
#include <vector>

#include "engine/engine.h"
#include "engine/kv_block_manager.h"
#include "engine/prefix_hash.h"
#include "gtest/gtest.h"
#include "tests/engine/engine_harness.h"

namespace corvid {
namespace {

using fake::FakeReference;
using fake::Harness;
using fake::kVocab;
using fake::MakeEngine;
using fake::RandomPrompt;
using fake::Request;
using fake::RunAll;

// Allocates `tokens` for `seq` (sharing what the cache has) and registers its full blocks as
// computed; returns how many blocks came from the cache.
int AllocateAndCache(KvBlockManager* m, int64_t seq, const std::vector<int32_t>& tokens) {
  std::vector<uint64_t> hashes;
  ExtendBlockHashes(tokens, static_cast<int>(tokens.size()), m->block_size(), &hashes);
  auto at = [&tokens](int i) { return tokens[i]; };
  const int max_blocks = (static_cast<int>(tokens.size()) - 1) / m->block_size();
  const std::vector<int32_t> prefix = m->MatchPrefix(hashes, max_blocks, at);
  EXPECT_TRUE(m->Allocate(seq, static_cast<int>(tokens.size()), prefix).ok());
  for (size_t b = 0; b < hashes.size(); ++b) {
    m->CacheBlock(seq, static_cast<int>(b), b == 0 ? kPrefixHashRoot : hashes[b - 1], hashes[b],
                  at);
  }
  EXPECT_TRUE(m->CheckInvariants().ok()) << m->CheckInvariants();
  return static_cast<int>(prefix.size());
}

TEST(PrefixHashTest, ChainDependsOnEveryEarlierToken) {
  std::vector<int32_t> a = {5, 6, 7, 8, 9, 10, 11, 12, 13};
  std::vector<uint64_t> ha, hb;
  ExtendBlockHashes(a, 9, 4, &ha);
  ASSERT_EQ(ha.size(), 2u);  // the ninth token is a partial block
  std::vector<int32_t> b = a;
  b[0] = 99;  // only the first block differs, but the second block's identity changes too
  ExtendBlockHashes(b, 9, 4, &hb);
  EXPECT_NE(ha[0], hb[0]);
  EXPECT_NE(ha[1], hb[1]);
  std::vector<uint64_t> again = {ha[0]};  // extending a partial chain gives the same chain
  ExtendBlockHashes(a, 9, 4, &again);
  EXPECT_EQ(again, ha);
}

TEST(KvPrefixCacheTest, SharesFullBlocksAndKeepsThemCachedAfterFree) {
  KvBlockManager m(8, 4, /*enable_prefix_caching=*/true);
  const std::vector<int32_t> a = {3, 4, 5, 6, 7, 8, 9, 10, 11, 12};  // 2 full blocks + 2
  EXPECT_EQ(AllocateAndCache(&m, 1, a), 0);
  EXPECT_EQ(m.num_cached_blocks(), 2);
  std::vector<int32_t> b(a.begin(), a.begin() + 8);
  b.push_back(40);  // same two full blocks, another tail
  EXPECT_EQ(AllocateAndCache(&m, 2, b), 2);
  EXPECT_EQ(m.BlockTable(2)[0], m.BlockTable(1)[0]);
  EXPECT_EQ(m.BlockTable(2)[1], m.BlockTable(1)[1]);
  EXPECT_NE(m.BlockTable(2)[2], m.BlockTable(1)[2]);  // the partial block is private
  EXPECT_EQ(m.RefCount(m.BlockTable(1)[0]), 2);
  EXPECT_EQ(m.num_free_blocks(), 8 - 4);
  m.Free(1);
  m.Free(2);
  EXPECT_EQ(m.num_free_blocks(), 8);  // drained, yet the two blocks stay cached
  EXPECT_EQ(m.num_evictable_blocks(), 2);
  EXPECT_TRUE(m.CheckInvariants().ok()) << m.CheckInvariants();
  EXPECT_EQ(AllocateAndCache(&m, 3, a), 2);  // a later request still hits
  EXPECT_EQ(m.num_evictable_blocks(), 0);
}

TEST(KvPrefixCacheTest, LeavesTheLastTokenToComputeAndComparesTokens) {
  KvBlockManager m(8, 4, true);
  const std::vector<int32_t> a = {3, 4, 5, 6, 7, 8, 9, 10};  // exactly two blocks
  AllocateAndCache(&m, 1, a);
  EXPECT_EQ(AllocateAndCache(&m, 2, a), 1);  // block 2 holds the token that must be computed
  // A forged hash chain over other tokens must not match.
  std::vector<uint64_t> hashes;
  ExtendBlockHashes(a, 8, 4, &hashes);
  const std::vector<int32_t> other = {3, 4, 5, 99, 7, 8, 9, 10, 11};
  EXPECT_TRUE(m.MatchPrefix(hashes, 2, [&](int i) { return other[i]; }).empty());
}

TEST(KvPrefixCacheTest, EvictsLeastRecentlyReleasedOnlyWhenNeeded) {
  KvBlockManager m(6, 2, true);
  const std::vector<int32_t> a = {3, 4, 5, 6, 7};  // blocks a0 a1 + partial
  const std::vector<int32_t> b = {8, 9, 10, 11, 12};
  AllocateAndCache(&m, 1, a);
  AllocateAndCache(&m, 2, b);
  m.Free(1);  // a released first: its blocks are the oldest, its tail before its head
  m.Free(2);
  ASSERT_EQ(m.num_evictable_blocks(), 4);
  // Two never-registered blocks are free: a 4-slot sequence takes them and evicts nothing.
  ASSERT_TRUE(m.Allocate(3, 4).ok());
  EXPECT_EQ(m.num_cached_blocks(), 4);
  // One more block must evict: a's tail block (a1) goes first.
  ASSERT_TRUE(m.Allocate(4, 1).ok());
  EXPECT_EQ(m.num_cached_blocks(), 3);
  std::vector<uint64_t> ha;
  ExtendBlockHashes(a, 5, 2, &ha);
  auto at_a = [&a](int i) { return a[i]; };
  EXPECT_EQ(m.MatchPrefix(ha, 2, at_a).size(), 1u);  // a0 survives
  ASSERT_TRUE(m.Allocate(5, 1).ok());                  // now a0 goes
  EXPECT_TRUE(m.MatchPrefix(ha, 2, at_a).empty());
  m.Free(3);  // two unregistered blocks back: b still hits both of its cached blocks
  EXPECT_EQ(AllocateAndCache(&m, 6, b), 2);
  EXPECT_TRUE(m.CheckInvariants().ok()) << m.CheckInvariants();
}

TEST(KvPrefixCacheTest, RevivingEvictableBlocksCountsAgainstTheFreePool) {
  KvBlockManager m(3, 2, true);
  const std::vector<int32_t> a = {3, 4, 5, 6, 7};
  AllocateAndCache(&m, 1, a);
  m.Free(1);
  std::vector<uint64_t> ha;
  ExtendBlockHashes(a, 5, 2, &ha);
  const auto prefix = m.MatchPrefix(ha, 2, [&a](int i) { return a[i]; });
  ASSERT_EQ(prefix.size(), 2u);
  EXPECT_TRUE(m.CanAllocate(6, prefix));   // 2 revived + 1 fresh = 3 free
  EXPECT_FALSE(m.CanAllocate(7, prefix));  // would need a fourth
  EXPECT_EQ(m.Allocate(1, 7, prefix).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(m.CheckInvariants().ok());
}

TEST(KvPrefixCacheTest, DisabledNeverCachesAndClearForgetsEverything) {
  KvBlockManager off(8, 4, false);
  const std::vector<int32_t> a = {3, 4, 5, 6, 7, 8, 9, 10, 11};
  AllocateAndCache(&off, 1, a);
  EXPECT_EQ(off.num_cached_blocks(), 0);
  EXPECT_EQ(AllocateAndCache(&off, 2, a), 0);
  KvBlockManager on(8, 4, true);
  AllocateAndCache(&on, 1, a);
  on.Free(1);
  on.ClearCache();
  EXPECT_EQ(on.num_cached_blocks(), 0);
  EXPECT_EQ(on.num_free_blocks(), 8);
  EXPECT_EQ(AllocateAndCache(&on, 2, a), 0);
}

// A request whose prefix an earlier one computed skips those tokens and still yields exactly
// its reference tokens, reading the other's slots.
TEST(EnginePrefixCacheTest, ReusedPrefixSkipsComputeAndKeepsTokens) {
  Harness h = MakeEngine({8, 32}, EngineOptions{});
  std::mt19937 rng(3);
  const std::vector<int32_t> shared = RandomPrompt(&rng, 37);
  std::vector<int32_t> a = shared, b = shared;
  a.push_back(5);
  b.push_back(6);
  ASSERT_TRUE(h.engine->Add(Request(1, a, 10)).ok());
  std::vector<StepStats> first;
  auto out = RunAll(&h, &first);
  EXPECT_EQ(out[1].tokens, FakeReference(a, 10, kVocab, {}));
  ASSERT_TRUE(h.engine->Add(Request(2, b, 10)).ok());
  std::vector<StepStats> second;
  out = RunAll(&h, &second);
  EXPECT_EQ(out[2].tokens, FakeReference(b, 10, kVocab, {}));
  EXPECT_EQ(second[0].num_prefix_queried_tokens, 38);
  EXPECT_EQ(second[0].num_prefix_hit_tokens, 32);  // four full blocks of the 37 shared tokens
  EXPECT_EQ(second[0].num_prefill_tokens, 38 - 32);
  EXPECT_GT(h.fake->shared_reads(), 0);
  EXPECT_EQ(h.engine->Capacity().free_kv_blocks, 32);
}

// Many requests from a few prompt families under a pool small enough to preempt, with random
// cancellations: invariants hold every step (RunAll), every finished request has its reference
// tokens, the cache really hits, and the pool drains back completely.
TEST(EnginePrefixCacheTest, SharedBlocksSurvivePreemptionCancelAndEviction) {
  EngineOptions options;
  options.max_num_seqs = 6;
  options.max_num_batched_tokens = 24;
  Harness h = MakeEngine({4, 24}, options);  // 96 slots
  std::mt19937 rng(77);
  std::vector<std::vector<int32_t>> families;
  for (int f = 0; f < 3; ++f) families.push_back(RandomPrompt(&rng, 9 + 6 * f));
  std::map<int64_t, std::vector<int32_t>> prompts;
  std::map<int64_t, fake::Outcome> out;
  int64_t preempted = 0, hits = 0;
  for (int64_t id = 0; id < 40; ++id) {
    std::vector<int32_t> p = families[rng() % families.size()];
    const std::vector<int32_t> tail = RandomPrompt(&rng, 1 + static_cast<int>(rng() % 6));
    p.insert(p.end(), tail.begin(), tail.end());
    prompts[id] = p;
    ASSERT_TRUE(h.engine->Add(Request(id, p, 8 + static_cast<int>(rng() % 16))).ok());
    if (id % 5 != 4) continue;
    // Run a few steps between arrivals, cancelling now and then.
    for (int s = 0; s < 6 && h.engine->HasWork(); ++s) {
      std::vector<TokenEvent> events;
      StepStats stats;
      ASSERT_TRUE(h.engine->Step(&events, &stats).ok());
      ASSERT_TRUE(h.impl()->CheckInvariants().ok()) << h.impl()->CheckInvariants();
      preempted += stats.num_preempted;
      hits += stats.num_prefix_hit_tokens;
      for (const TokenEvent& e : events) {
        if (e.token.token >= 0) out[e.id].tokens.push_back(e.token.token);
        out[e.id].finish = e.finish;
      }
    }
    if (rng() % 3 == 0) h.engine->Cancel(id - 1);
  }
  std::vector<StepStats> rest;
  for (const auto& [id, o] : RunAll(&h, &rest)) {
    out[id].tokens.insert(out[id].tokens.end(), o.tokens.begin(), o.tokens.end());
    out[id].finish = o.finish;
  }
  for (const StepStats& s : rest) {
    preempted += s.num_preempted;
    hits += s.num_prefix_hit_tokens;
  }
  EXPECT_GT(preempted, 0);
  EXPECT_GT(hits, 0);
  int finished = 0;
  for (const auto& [id, o] : out) {
    if (o.finish != FinishReason::kLength) continue;
    ++finished;
    const auto ref = FakeReference(prompts[id], static_cast<int>(o.tokens.size()), kVocab, {});
    EXPECT_EQ(o.tokens, ref) << "request " << id;
  }
  EXPECT_GT(finished, 30);
  EXPECT_EQ(h.engine->Capacity().free_kv_blocks, 24);
  EXPECT_GT(h.engine->Capacity().cached_kv_blocks, 0);
  EXPECT_TRUE(h.impl()->CheckInvariants().ok());
}

// A prompt that fills its blocks exactly and was seen before: its last block is computed again,
// so that the step has logits to sample from.
TEST(EnginePrefixCacheTest, RepeatedBlockAlignedPromptComputesItsLastToken) {
  Harness h = MakeEngine({8, 16}, EngineOptions{});
  const std::vector<int32_t> p = {3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18};
  for (int64_t id = 1; id <= 3; ++id) {
    ASSERT_TRUE(h.engine->Add(Request(id, p, 5)).ok());
    std::vector<StepStats> stats;
    auto out = RunAll(&h, &stats);
    EXPECT_EQ(out[id].tokens, FakeReference(p, 5, kVocab, {})) << id;
    EXPECT_EQ(stats[0].num_prefix_hit_tokens, id == 1 ? 0 : 8) << id;
    EXPECT_EQ(stats[0].num_prefill_tokens, id == 1 ? 16 : 8) << id;
  }
}

TEST(EnginePrefixCacheTest, DisabledComputesEveryToken) {
  EngineOptions options;
  options.enable_prefix_caching = false;
  Harness h = MakeEngine({8, 32}, options);
  const std::vector<int32_t> p = {3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19};
  for (int64_t id = 1; id <= 2; ++id) {
    ASSERT_TRUE(h.engine->Add(Request(id, p, 4)).ok());
    std::vector<StepStats> stats;
    auto out = RunAll(&h, &stats);
    EXPECT_EQ(out[id].tokens, FakeReference(p, 4, kVocab, {}));
    EXPECT_EQ(stats[0].num_prefill_tokens, 17);
    EXPECT_EQ(stats[0].num_prefix_hit_tokens, 0);
  }
  EXPECT_EQ(h.fake->shared_reads(), 0);
  EXPECT_EQ(h.engine->Capacity().cached_kv_blocks, 0);
}

TEST(EnginePrefixCacheTest, FailedStepForgetsTheCache) {
  Harness h = MakeEngine({4, 16}, EngineOptions{});
  const std::vector<int32_t> p = {3, 4, 5, 6, 7, 8, 9, 10, 11};
  ASSERT_TRUE(h.engine->Add(Request(1, p, 3)).ok());
  RunAll(&h);
  ASSERT_GT(h.engine->Capacity().cached_kv_blocks, 0);
  ASSERT_TRUE(h.engine->Add(Request(2, p, 3)).ok());
  h.fake->FailNext(1);
  std::vector<TokenEvent> events;
  EXPECT_FALSE(h.engine->Step(&events).ok());
  EXPECT_EQ(h.engine->Capacity().cached_kv_blocks, 0);
  std::vector<StepStats> stats;
  auto out = RunAll(&h, &stats);
  EXPECT_EQ(stats[0].num_prefix_hit_tokens, 0);
  EXPECT_EQ(out[2].tokens, FakeReference(p, 3, kVocab, {}));
}

}  // namespace
}  // namespace corvid
