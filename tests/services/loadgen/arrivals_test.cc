#include "services/loadgen/arrivals.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"

namespace corvid::loadgen {
namespace {

struct GapStats {
  double mean = 0, cv = 0;
};

GapStats Gaps(const std::vector<double>& t) {
  std::vector<double> g;
  double prev = 0;
  for (double x : t) {
    g.push_back(x - prev);
    prev = x;
  }
  double sum = 0, sq = 0;
  for (double x : g) sum += x;
  const double mean = sum / g.size();
  for (double x : g) sq += (x - mean) * (x - mean);
  return {mean, std::sqrt(sq / g.size()) / mean};
}

bool Ascending(const std::vector<double>& t) {
  for (size_t i = 1; i < t.size(); ++i) {
    if (t[i] < t[i - 1]) return false;
  }
  return true;
}

TEST(ArrivalsTest, PoissonHasTheRateAndUnitCoefficientOfVariation) {
  ArrivalOptions o;
  o.rate = 50;
  o.seed = 1;
  const std::vector<double> t = ArrivalOffsets(o, 200000, 0);
  ASSERT_EQ(t.size(), 200000u);
  EXPECT_TRUE(Ascending(t));
  const GapStats s = Gaps(t);
  EXPECT_NEAR(1.0 / s.mean, 50, 50 * 0.01);
  EXPECT_NEAR(s.cv, 1.0, 0.02);  // exponential gaps: standard deviation = mean
}

TEST(ArrivalsTest, GammaKeepsTheRateAndIsBurstierBelowShapeOne) {
  ArrivalOptions o;
  o.kind = ArrivalKind::kGamma;
  o.rate = 20;
  o.burstiness = 0.25;
  o.seed = 2;
  const std::vector<double> t = ArrivalOffsets(o, 200000, 0);
  const GapStats s = Gaps(t);
  EXPECT_NEAR(1.0 / s.mean, 20, 20 * 0.02);
  EXPECT_NEAR(s.cv, 1 / std::sqrt(0.25), 0.1);  // gamma: cv = 1 / sqrt(shape)
}

TEST(ArrivalsTest, OnOffIsSilentOffWindowAndKeepsTheMeanRate) {
  ArrivalOptions o;
  o.kind = ArrivalKind::kOnOff;
  o.rate = 10;
  o.on_s = 1;
  o.off_s = 3;
  o.seed = 3;
  const double horizon = 4000;  // 1000 on/off cycles
  const std::vector<double> t = ArrivalOffsets(o, -1, horizon);
  EXPECT_TRUE(Ascending(t));
  for (double x : t) ASSERT_LT(std::fmod(x, 4.0), 1.0) << "arrival at " << x << " s is off-window";
  EXPECT_NEAR(t.size() / horizon, 10, 10 * 0.02);
}

TEST(ArrivalsTest, BurstsArriveTogetherAndKeepTheMeanRate) {
  ArrivalOptions o;
  o.kind = ArrivalKind::kBurst;
  o.rate = 40;
  o.burst_size = 4;
  o.seed = 6;
  const std::vector<double> t = ArrivalOffsets(o, 40000, 0);
  ASSERT_EQ(t.size(), 40000u);
  for (size_t i = 0; i < t.size(); i += 4) {
    for (size_t k = 1; k < 4; ++k) ASSERT_EQ(t[i + k], t[i]) << "burst at " << i;
    if (i > 0) ASSERT_GT(t[i], t[i - 1]);
  }
  EXPECT_NEAR(t.size() / t.back(), 40, 40 * 0.03);
  EXPECT_EQ(ArrivalOffsets(o, 6, 0).size(), 6u);  // the count bound may cut a burst
}

TEST(ArrivalsTest, InfiniteRateSendsEverythingAtOnce) {
  auto o = ParseArrivals("poisson", INFINITY, 0);
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(ArrivalOffsets(*o, 5, 0), std::vector<double>(5, 0.0));
  EXPECT_TRUE(ArrivalOffsets(*o, -1, 10).empty());  // no count: nothing
  EXPECT_FALSE(ParseArrivals("gamma:2", INFINITY, 0).ok());
}

TEST(ArrivalsTest, BoundsAreRespected) {
  ArrivalOptions o;
  o.rate = 100;
  EXPECT_EQ(ArrivalOffsets(o, 37, 0).size(), 37u);
  const std::vector<double> by_time = ArrivalOffsets(o, -1, 20);
  for (double x : by_time) EXPECT_LT(x, 20);
  EXPECT_NEAR(by_time.size(), 2000, 2000 * 0.1);
  EXPECT_LE(ArrivalOffsets(o, 10, 1000).size(), 10u);  // both bounds: whichever first
  EXPECT_TRUE(ArrivalOffsets(o, -1, 0).empty());       // unbounded: nothing rather than hang
}

TEST(ArrivalsTest, SameSeedSameArrivalsOtherSeedOthers) {
  ArrivalOptions o;
  o.rate = 5;
  o.seed = 9;
  EXPECT_EQ(ArrivalOffsets(o, 100, 0), ArrivalOffsets(o, 100, 0));
  ArrivalOptions other = o;
  other.seed = 10;
  EXPECT_NE(ArrivalOffsets(o, 100, 0), ArrivalOffsets(other, 100, 0));
}

TEST(ParseArrivalsTest, ParsesEachForm) {
  auto p = ParseArrivals("poisson", 4, 1);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->kind, ArrivalKind::kPoisson);
  EXPECT_EQ(p->rate, 4);
  auto g = ParseArrivals("gamma:0.5", 4, 1);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->kind, ArrivalKind::kGamma);
  EXPECT_EQ(g->burstiness, 0.5);
  auto burst = ParseArrivals("burst:8", 4, 1);
  ASSERT_TRUE(burst.ok());
  EXPECT_EQ(burst->kind, ArrivalKind::kBurst);
  EXPECT_EQ(burst->burst_size, 8);
  auto b = ParseArrivals("onoff:2:0.5", 4, 1);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->kind, ArrivalKind::kOnOff);
  EXPECT_EQ(b->on_s, 2);
  EXPECT_EQ(b->off_s, 0.5);
}

TEST(ParseArrivalsTest, RejectsBadSpecsAndRates) {
  for (const char* bad :
       {"", "uniform", "gamma", "gamma:0", "gamma:-1", "gamma:x", "onoff:1", "onoff:0:1",
        "onoff:1:-1", "poisson:3", "burst:0", "burst:1.5", "burst"}) {
    absl::StatusOr<ArrivalOptions> r = ParseArrivals(bad, 1, 0);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_FALSE(ParseArrivals("poisson", 0, 0).ok());
  EXPECT_FALSE(ParseArrivals("poisson", -2, 0).ok());
}

}  // namespace
}  // namespace corvid::loadgen
