// Prompt-prefix affinity routing: the remembered block chains, the load-gap rule against least
// loaded routing, and PlanDispatch with routing on and off.
#include "services/scheduler/prefix_affinity.h"

#include <gtest/gtest.h>

#include <map>
#include <vector>

#include "services/scheduler/dispatch_planner.h"

namespace corvid::scheduler {
namespace {

// A worker of 100 blocks of 16 tokens and 10 slots, `used` blocks already taken.
CapacityReport Report(int used_blocks) {
  CapacityReport r;
  r.available_blocks = 100 - used_blocks;
  r.free_blocks = r.available_blocks;
  r.total_blocks = 100;
  r.block_size = 16;
  r.free_slots = 10;
  return r;
}

std::vector<int32_t> Prompt(int shared, int tail, int32_t tail_token) {
  std::vector<int32_t> p;
  for (int i = 0; i < shared; ++i) p.push_back(100 + i);
  for (int i = 0; i < tail; ++i) p.push_back(tail_token + i);
  return p;
}

TEST(PrefixAffinityTest, PrefersTheLongestRememberedPrefixWithinTheLoadGap) {
  WorkerLoad a(10, true), b(10, true), c(10, true);
  a.OnCapacity(Report(30));
  b.OnCapacity(Report(10));  // least loaded
  c.OnCapacity(Report(20));
  PrefixAffinity affinity(AffinityOptions{});
  const std::vector<int32_t> system = Prompt(64, 8, 7);  // 4 full blocks + a tail
  affinity.Record(0, a, Prompt(64, 3, 900));   // a was sent the whole 64-token prefix
  affinity.Record(2, c, Prompt(32, 40, 500));  // c only its first 32 tokens
  const std::vector<const WorkerLoad*> ws = {&a, &b, &c};
  int matched = -1;
  EXPECT_EQ(affinity.Pick(ws, 100, system, &matched), 0);
  EXPECT_EQ(matched, 64);
  // a 0.3 utilized vs b 0.1: within 0.25. At 0.4 vs 0.1 it is not, and c (0.2, 32 tokens) is.
  a.OnCapacity(Report(40));
  EXPECT_EQ(affinity.Pick(ws, 100, system, &matched), 2);
  EXPECT_EQ(matched, 32);
  // A prompt nobody was sent goes to the least loaded.
  EXPECT_EQ(affinity.Pick(ws, 100, Prompt(0, 70, 3000), &matched), 1);
  EXPECT_EQ(matched, 0);
}

TEST(PrefixAffinityTest, IgnoresWorkersWithoutPrefixCachingOrRoom) {
  WorkerLoad a(10, /*prefix_caching=*/false), b(10, true);
  a.OnCapacity(Report(0));
  b.OnCapacity(Report(10));
  PrefixAffinity affinity(AffinityOptions{});
  const std::vector<int32_t> p = Prompt(48, 5, 7);
  affinity.Record(0, a, p);  // a does not cache: nothing is remembered
  EXPECT_EQ(affinity.size(), 0);
  affinity.Record(1, b, p);
  EXPECT_EQ(affinity.size(), 3);  // three full blocks (the last token is always computed)
  const std::vector<const WorkerLoad*> ws = {&a, &b};
  EXPECT_EQ(affinity.Pick(ws, 60, p), 1);
  // b cannot hold a request this large any more: least loaded that fits.
  b.OnCapacity(Report(96));
  EXPECT_EQ(affinity.Pick(ws, 100, p), 0);
  affinity.ForgetWorker(1);
  b.OnCapacity(Report(10));
  EXPECT_EQ(affinity.Pick(ws, 60, p), 0);
}

TEST(PrefixAffinityTest, DisabledOrForgottenMeansLeastLoaded) {
  WorkerLoad a(10, true), b(10, true);
  a.OnCapacity(Report(20));
  b.OnCapacity(Report(10));
  const std::vector<int32_t> p = Prompt(48, 5, 7);
  AffinityOptions off;
  off.enabled = false;
  PrefixAffinity disabled(off);
  disabled.Record(0, a, p);
  EXPECT_EQ(disabled.Pick({&a, &b}, 60, p), 1);
  AffinityOptions tiny;
  tiny.max_entries = 2;  // the LRU keeps only the last two blocks sent
  PrefixAffinity small(tiny);
  small.Record(0, a, p);
  EXPECT_EQ(small.size(), 2);
  EXPECT_EQ(small.Pick({&a, &b}, 60, p), 1);  // block 0 was forgotten: no leading match
}

// Six requests of two prompt families (A A B B A B) arrive together at two idle workers:
// least loaded alternates them, splitting both families; affinity keeps each family on one
// worker once its first request went there, and the two families still use both workers.
TEST(PrefixAffinityTest, PlanDispatchKeepsFamiliesTogether) {
  const bool family_a[] = {false, true, true, false, false, true, false};  // by id 1..6
  std::map<uint64_t, std::vector<int32_t>> prompts;
  for (uint64_t id = 1; id <= 6; ++id) {
    prompts[id] = Prompt(64, 4, 10 * static_cast<int32_t>(id));
    if (!family_a[id]) {
      for (int i = 0; i < 64; ++i) prompts[id][i] = 4000 + i;  // family B's own prefix
    }
  }
  auto run = [&](bool enabled) {
    WorkerLoad a(10, true), b(10, true);
    a.OnCapacity(Report(0));
    b.OnCapacity(Report(0));
    RequestQueue q(QueueLimits{});
    for (uint64_t id = 1; id <= 6; ++id) {
      QueueEntry e;
      e.id = id;
      e.prompt_tokens = 68;
      e.max_tokens = 12;  // 5 blocks each
      EXPECT_TRUE(q.Push(e).ok());
    }
    AffinityOptions options;
    options.enabled = enabled;
    PrefixAffinity affinity(options);
    PrefixRouting routing{&affinity, [&](uint64_t id) -> const std::vector<int32_t>& {
                            return prompts.at(id);
                          }};
    std::vector<WorkerLoad*> ws = {&a, &b};
    std::map<uint64_t, int> worker_of;
    int routed = 0;
    for (const DispatchBatch& batch : PlanDispatch(&q, ws, 0, &routing)) {
      for (const QueueEntry& e : batch.entries) worker_of[e.id] = batch.worker;
      routed += batch.affinity_routed;
    }
    EXPECT_EQ(worker_of.size(), 6u);
    return std::make_pair(worker_of, routed);
  };
  auto [least, least_routed] = run(false);
  EXPECT_EQ(least_routed, 0);
  EXPECT_NE(least[1], least[2]);  // alternation splits family A...
  EXPECT_NE(least[3], least[4]);  // ...and family B
  auto [sticky, sticky_routed] = run(true);
  EXPECT_EQ(sticky_routed, 4);  // all but each family's first request
  EXPECT_EQ(sticky[1], sticky[2]);
  EXPECT_EQ(sticky[1], sticky[5]);
  EXPECT_EQ(sticky[3], sticky[4]);
  EXPECT_EQ(sticky[3], sticky[6]);
  EXPECT_NE(sticky[1], sticky[3]);
}

}  // namespace
}  // namespace corvid::scheduler
