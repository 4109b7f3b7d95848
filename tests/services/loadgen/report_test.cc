// Goodput and latency accounting of BuildReport on hand-built request records.
#include "services/loadgen/report.h"

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace corvid::loadgen {
namespace {

constexpr int64_t kMs = 1000000;

// A request sent at `sent_ms` whose token chunks arrive at the given times (ms after sending).
RequestRecord Streamed(int64_t sent_ms, std::vector<std::pair<int64_t, int>> chunks,
                       int64_t end_after_ms, absl::StatusCode code = absl::StatusCode::kOk) {
  RequestRecord r;
  r.scheduled_ns = r.sent_ns = sent_ms * kMs;
  for (auto [at, n] : chunks) r.chunks.push_back({(sent_ms + at) * kMs, n});
  r.end_ns = (sent_ms + end_after_ms) * kMs;
  r.code = code;
  r.prompt_tokens = 4;
  return r;
}

RunResult MakeRun(std::vector<RequestRecord> records, int64_t wall_ms) {
  RunResult run;
  for (RequestRecord& r : records) run.records.push_back(std::move(r));
  run.origin_ns = 0;
  run.finished_ns = wall_ms * kMs;
  return run;
}

TEST(ReportTest, LatenciesOfOneRequest) {
  // TTFT 10 ms, then tokens every 10 ms: TPOT 10 ms, ITL 10 ms, E2E 31 ms.
  const Report r = BuildReport(MakeRun({Streamed(0, {{10, 1}, {20, 1}, {30, 1}}, 31)}, 1000), {});
  EXPECT_EQ(r.sent, 1);
  EXPECT_EQ(r.succeeded, 1);
  EXPECT_EQ(r.output_tokens, 3);
  EXPECT_EQ(r.prompt_tokens, 4);
  EXPECT_DOUBLE_EQ(r.ttft_ms.p50, 10);
  EXPECT_DOUBLE_EQ(r.tpot_ms.p50, 10);
  EXPECT_EQ(r.itl_ms.count, 2);
  EXPECT_DOUBLE_EQ(r.itl_ms.max, 10);
  EXPECT_DOUBLE_EQ(r.e2e_ms.p50, 31);
  EXPECT_DOUBLE_EQ(r.output_throughput, 3);  // 3 tokens in 1 s
  EXPECT_DOUBLE_EQ(r.request_throughput, 1);
}

TEST(ReportTest, CoalescedChunksCountTheirTokensInTpotButAreOneGap) {
  // First chunk 1 token at 5 ms, then one chunk of 4 tokens at 45 ms: TPOT = 40 ms / 4.
  const Report r = BuildReport(MakeRun({Streamed(0, {{5, 1}, {45, 4}}, 46)}, 1000), {});
  EXPECT_DOUBLE_EQ(r.tpot_ms.p50, 10);
  EXPECT_EQ(r.itl_ms.count, 1);
  EXPECT_DOUBLE_EQ(r.itl_ms.p50, 40);
  EXPECT_EQ(r.multi_token_chunks, 1);
  EXPECT_EQ(r.output_tokens, 5);
}

TEST(ReportTest, GoodputCountsOnlySuccessfulRequestsMeetingBothBounds) {
  std::vector<RequestRecord> records;
  records.push_back(Streamed(0, {{10, 1}, {20, 1}}, 21));  // TTFT 10, TPOT 10: good
  records.push_back(Streamed(0, {{50, 1}, {60, 1}}, 61));  // TTFT 50 > 20: bad
  records.push_back(Streamed(0, {{10, 1}, {40, 1}}, 41));  // TPOT 30 > 15: bad
  records.push_back(Streamed(0, {{15, 1}}, 16));           // one token, no TPOT: good
  records.push_back(Streamed(0, {{5, 1}}, 300, absl::StatusCode::kDeadlineExceeded));
  records.push_back(Streamed(0, {}, 2, absl::StatusCode::kResourceExhausted));
  records.push_back(Streamed(0, {}, 4, absl::StatusCode::kResourceExhausted));
  const Report r = BuildReport(MakeRun(std::move(records), 2000), {20, 15});
  EXPECT_EQ(r.sent, 7);
  EXPECT_EQ(r.succeeded, 4);
  EXPECT_EQ(r.failed, 3);
  EXPECT_EQ(r.good, 2);
  EXPECT_DOUBLE_EQ(r.goodput, 1.0);  // 2 good in 2 s
  EXPECT_DOUBLE_EQ(r.request_throughput, 2.0);
  // The deadline-exceeded request's token is not output of a successful request.
  EXPECT_EQ(r.output_tokens, 7);
  // Its first token still counts among the streamed (admitted) requests' TTFTs.
  EXPECT_EQ(r.streamed_ttft_ms.count, 5);
  EXPECT_EQ(r.ttft_ms.count, 4);
  ASSERT_EQ(r.errors.size(), 2u);
  const ErrorSummary& re = r.errors.at("RESOURCE_EXHAUSTED");
  EXPECT_EQ(re.count, 2);
  EXPECT_DOUBLE_EQ(re.latency_ms.min, 2);
  EXPECT_DOUBLE_EQ(re.latency_ms.max, 4);
  EXPECT_EQ(r.errors.at("DEADLINE_EXCEEDED").count, 1);
}

TEST(ReportTest, NoSloMeansEverySuccessfulRequestIsGood) {
  std::vector<RequestRecord> records;
  records.push_back(Streamed(0, {{500, 1}, {900, 1}}, 901));
  records.push_back(Streamed(0, {}, 1, absl::StatusCode::kUnavailable));
  const Report r = BuildReport(MakeRun(std::move(records), 1000), {});
  EXPECT_EQ(r.good, 1);
  EXPECT_DOUBLE_EQ(r.goodput, r.request_throughput);
}

TEST(ReportTest, SendLagAndLateFirstTokens) {
  RequestRecord late = Streamed(0, {{30, 1}}, 31);
  late.scheduled_ns = 0;
  late.sent_ns = 2 * kMs;  // sent 2 ms after its arrival time
  late.chunks[0].time_ns = 32 * kMs;
  late.deadline_ms = 20;
  RequestRecord on_time = Streamed(0, {{10, 1}}, 11);
  on_time.deadline_ms = 20;
  const Report r = BuildReport(MakeRun({late, on_time}, 100), {});
  EXPECT_DOUBLE_EQ(r.send_lag_ms.max, 2);
  EXPECT_DOUBLE_EQ(r.ttft_ms.max, 30);  // from sending, not from the scheduled arrival
  EXPECT_EQ(r.first_token_after_deadline, 1);
  EXPECT_EQ(r.deadline_ms, 20);
}

TEST(ReportTest, JsonAndTableCarryTheFigures) {
  std::vector<RequestRecord> records;
  records.push_back(Streamed(0, {{10, 1}, {20, 1}}, 21));
  records.push_back(Streamed(0, {}, 3, absl::StatusCode::kResourceExhausted));
  Report r = BuildReport(MakeRun(std::move(records), 1000), {20, 0});
  r.target = "test";
  const nlohmann::json j = ReportToJson(r);
  EXPECT_EQ(j["succeeded"], 1);
  EXPECT_EQ(j["errors"]["RESOURCE_EXHAUSTED"]["count"], 1);
  EXPECT_DOUBLE_EQ(j["ttft_ms"]["p50"].get<double>(), 10);
  EXPECT_DOUBLE_EQ(j["goodput"].get<double>(), 1);
  const std::string table = FormatReport(r);
  EXPECT_NE(table.find("RESOURCE_EXHAUSTED"), std::string::npos);
  EXPECT_NE(table.find("TTFT <= 20 ms"), std::string::npos);
}

}  // namespace
}  // namespace corvid::loadgen
