#include <gtest/gtest.h>

#include "services/loadgen/stats.h"
#include "services/loadgen/workload.h"

namespace corvid::loadgen {
namespace {

TEST(LengthDistTest, ParsesTheThreeForms) {
  auto fixed = LengthDist::Parse("12");
  ASSERT_TRUE(fixed.ok());
  std::mt19937_64 rng(1);
  EXPECT_EQ(fixed->Sample(rng), 12);
  auto uniform = LengthDist::Parse("4:6");
  ASSERT_TRUE(uniform.ok());
  for (int i = 0; i < 50; ++i) {
    int n = uniform->Sample(rng);
    EXPECT_GE(n, 4);
    EXPECT_LE(n, 6);
  }
  auto normal = LengthDist::Parse("normal:3:10");
  ASSERT_TRUE(normal.ok());
  for (int i = 0; i < 50; ++i) EXPECT_GE(normal->Sample(rng), 1);
  EXPECT_FALSE(LengthDist::Parse("0").ok());
  EXPECT_FALSE(LengthDist::Parse("9:2").ok());
  EXPECT_FALSE(LengthDist::Parse("gamma:1:2").ok());
}

TEST(BuildWorkloadTest, PoissonArrivalsHaveTheRequestedMeanRate) {
  WorkloadOptions o;
  o.num_requests = 4000;
  o.rate = 200;
  o.input_len = *LengthDist::Parse("8");
  o.output_len = *LengthDist::Parse("2:3");
  auto specs = BuildWorkload(o);
  ASSERT_TRUE(specs.ok());
  ASSERT_EQ(specs->size(), 4000u);
  const double span = absl::ToDoubleSeconds(specs->back().arrival);
  EXPECT_NEAR(3999 / span, 200, 200 * 0.1);  // 4000 exponential gaps: within 10 %
  for (size_t i = 1; i < specs->size(); ++i) EXPECT_GE((*specs)[i].arrival, (*specs)[i - 1].arrival);
  EXPECT_EQ((*specs)[0].prompt_ids.size(), 8u);
  for (int32_t id : (*specs)[0].prompt_ids) {
    EXPECT_GE(id, 3);
    EXPECT_LT(id, 512);
  }
}

TEST(BuildWorkloadTest, BurstsShareArrivalTimes) {
  WorkloadOptions o;
  o.num_requests = 12;
  o.rate = 100;
  o.burst = 4;
  auto specs = BuildWorkload(o);
  ASSERT_TRUE(specs.ok());
  for (int b = 0; b < 3; ++b) {
    for (int k = 1; k < 4; ++k) EXPECT_EQ((*specs)[b * 4 + k].arrival, (*specs)[b * 4].arrival);
  }
  EXPECT_LT((*specs)[0].arrival, (*specs)[4].arrival);
}

TEST(SummarizeTest, PercentilesThroughputGoodputAndRejections) {
  const absl::Time t0 = absl::FromUnixSeconds(100);
  auto ms = [&](double v) { return t0 + absl::Milliseconds(v); };
  std::vector<RequestRecord> records(3);
  // Request 0: first token at 10 ms, then 2 more tokens 5 ms apart; ends at 20 ms.
  records[0].sent = t0;
  records[0].chunks = {{ms(10), 1}, {ms(15), 1}, {ms(20), 1}};
  records[0].output_tokens = 3;
  records[0].end = ms(20);
  // Request 1: first token at 100 ms (misses a 50 ms TTFT SLO), 2 tokens in one chunk after.
  records[1].sent = t0;
  records[1].chunks = {{ms(100), 1}, {ms(110), 2}};
  records[1].output_tokens = 3;
  records[1].end = ms(110);
  // Request 2: refused after 2 ms.
  records[2].sent = ms(50);
  records[2].end = ms(52);
  records[2].code = "RESOURCE_EXHAUSTED";
  Summary s = Summarize(records, Slo{50, 0});
  EXPECT_EQ(s.completed, 2);
  EXPECT_EQ(s.errors_by_code.at("RESOURCE_EXHAUSTED"), 1);
  EXPECT_EQ(s.output_tokens, 6);
  EXPECT_NEAR(s.duration_s, 0.110, 1e-9);
  EXPECT_NEAR(s.output_tokens_per_s, 6 / 0.110, 1e-6);
  EXPECT_NEAR(s.goodput_requests_per_s, 1 / 0.110, 1e-6);
  EXPECT_EQ(s.ttft_ms.count, 2);
  EXPECT_DOUBLE_EQ(s.ttft_ms.max, 100);
  EXPECT_DOUBLE_EQ(s.tpot_ms.p50, 5);       // (20 - 10) / 2 and (110 - 100) / 2
  EXPECT_EQ(s.itl_ms.count, 4);              // 2 gaps of request 0, the 2-token chunk twice
  EXPECT_DOUBLE_EQ(s.itl_ms.max, 5);
  EXPECT_DOUBLE_EQ(s.rejection_ms.p50, 2);
  EXPECT_NE(ToJson(s, "x").find("\"goodput_requests_per_s\""), std::string::npos);
}

}  // namespace
}  // namespace corvid::loadgen
