#include "services/loadgen/percentiles.h"

#include <algorithm>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace corvid::loadgen {
namespace {

TEST(PercentileTest, EmptySampleIsZero) {
  EXPECT_EQ(PercentileOfSorted({}, 50), 0);
  const Distribution d = Summarize({});
  EXPECT_EQ(d.count, 0);
  EXPECT_EQ(d.p99, 0);
}

TEST(PercentileTest, SingleValueIsEveryPercentile) {
  for (double q : {0.0, 50.0, 99.0, 100.0}) EXPECT_EQ(PercentileOfSorted({7.5}, q), 7.5);
}

TEST(PercentileTest, InterpolatesBetweenClosestRanks) {
  // n = 2: rank h = q / 100, so p25 lies a quarter of the way from 10 to 20.
  EXPECT_DOUBLE_EQ(PercentileOfSorted({10, 20}, 25), 12.5);
  // n = 4: p50 has rank 1.5, halfway between the 2nd and 3rd values.
  EXPECT_DOUBLE_EQ(PercentileOfSorted({1, 2, 3, 4}, 50), 2.5);
  // p90 of 1..10: rank 8.1 -> 9 + 0.1 * (10 - 9).
  std::vector<double> ten = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  EXPECT_DOUBLE_EQ(PercentileOfSorted(ten, 90), 9.1);
  EXPECT_DOUBLE_EQ(PercentileOfSorted(ten, 0), 1);
  EXPECT_DOUBLE_EQ(PercentileOfSorted(ten, 100), 10);
}

TEST(PercentileTest, OutOfRangeQuantilesClamp) {
  EXPECT_EQ(PercentileOfSorted({1, 2, 3}, -5), 1);
  EXPECT_EQ(PercentileOfSorted({1, 2, 3}, 150), 3);
}

TEST(SummarizeTest, SortsShuffledInputAndMatchesIntegerRanks) {
  // 0..100: every integer percentile has an integer rank, so p_q = q exactly.
  std::vector<double> v;
  for (int i = 0; i <= 100; ++i) v.push_back(i);
  std::mt19937 rng(3);
  std::shuffle(v.begin(), v.end(), rng);
  const Distribution d = Summarize(v);
  EXPECT_EQ(d.count, 101);
  EXPECT_DOUBLE_EQ(d.mean, 50);
  EXPECT_DOUBLE_EQ(d.min, 0);
  EXPECT_DOUBLE_EQ(d.max, 100);
  EXPECT_DOUBLE_EQ(d.p50, 50);
  EXPECT_DOUBLE_EQ(d.p90, 90);
  EXPECT_DOUBLE_EQ(d.p99, 99);
}

TEST(SummarizeTest, PercentilesAreOrdered) {
  std::mt19937_64 rng(11);
  std::exponential_distribution<double> e(0.5);
  std::vector<double> v(1000);
  for (double& x : v) x = e(rng);
  const Distribution d = Summarize(v);
  EXPECT_LE(d.min, d.p50);
  EXPECT_LE(d.p50, d.p90);
  EXPECT_LE(d.p90, d.p99);
  EXPECT_LE(d.p99, d.max);
}

}  // namespace
}  // namespace corvid::loadgen
