#include "engine/cpu_parallel.h"

#include <atomic>
#include <vector>

#include "gtest/gtest.h"

namespace corvid {
namespace {

TEST(ThreadTeam, ParallelForRunsEveryIndexOnceAcrossManyLoops) {
  ThreadTeam team(3);
  for (int run = 0; run < 50; ++run) {
    std::vector<std::atomic<int>> hits(1000);
    std::vector<int> static_hits(777, 0);
    team.Run([&] {
      for (int loop = 0; loop < 5; ++loop) {
        ParallelFor(200, [&](int i) { hits[loop * 200 + i].fetch_add(1); });
      }
      ParallelForStatic(777, [&](int i) { ++static_hits[i]; });  // disjoint ranges
    });
    for (auto& h : hits) ASSERT_EQ(h.load(), 1) << "run " << run;
    for (int h : static_hits) ASSERT_EQ(h, 1);
  }
}

TEST(ThreadTeam, BarrierSeparatesPhases) {
  ThreadTeam team(4);
  std::vector<int> a(64, 0), b(64, 0);
  team.Run([&] {
    for (int phase = 1; phase <= 20; ++phase) {
      ParallelFor(64, [&](int i) { a[i] = phase; });
      // Every a[] of this phase is written before any thread reads it.
      ParallelFor(64, [&](int i) { b[i] = a[(i + 17) % 64]; });
    }
  });
  for (int v : b) EXPECT_EQ(v, 20);
}

TEST(ThreadTeam, EveryMemberRunsTheJobWithItsIndex) {
  ThreadTeam team(4);
  std::vector<std::atomic<int>> seen(4);
  team.Run([&] {
    const TeamMember& m = CurrentTeamMember();
    EXPECT_EQ(m.team, &team);
    seen[m.index].fetch_add(1);
  });
  for (auto& s : seen) EXPECT_EQ(s.load(), 1);
  EXPECT_EQ(CurrentTeamMember().team, nullptr);  // restored after Run
}

TEST(ThreadTeam, SerialOutsideATeam) {
  std::vector<int> order;
  ParallelFor(5, [&](int i) { order.push_back(i); });
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_GE(ResolveNumThreads(0), 1);
  EXPECT_EQ(ResolveNumThreads(3), 3);
}

}  // namespace
}  // namespace corvid
