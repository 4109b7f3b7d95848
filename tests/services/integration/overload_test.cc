// Overload with small limits: the excess is refused with RESOURCE_EXHAUSTED and a retry hint,
// every admitted request completes with the right tokens, and every request ends in exactly one
// completion or one error.
#include <algorithm>
#include <thread>

#include <gtest/gtest.h>

#include "absl/strings/numbers.h"
#include "tests/services/integration/cluster.h"

namespace corvid::testing {
namespace {

TEST(OverloadTest, ExcessIsRefusedQuicklyAndEveryAdmittedRequestCompletes) {
  const std::string dir = std::string(CORVID_TEST_MODELS_DIR) + "/stories260K";
  auto golden = LoadGolden(dir);
  if (!golden.ok()) GTEST_SKIP() << golden.status();
  ClusterOptions options;
  options.model_dir = dir;
  // 4 slots, 2 ms steps (a request takes ~80 ms); at most 4 more may wait in the queue.
  options.worker_args = {"--max-sequences", "4", "--max-running", "4", "--min-step-ms", "2"};
  options.scheduler_args = {"--max-queued-requests", "4"};
  auto cluster = Cluster::Start(options);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  auto stub = (*cluster)->NewStub();

  constexpr int kRequests = 48;
  std::vector<StreamResult> results(kRequests);
  std::vector<std::thread> threads;
  for (int i = 0; i < kRequests; ++i) {
    threads.emplace_back([&, i] {
      results[i] = RunStream(stub.get(), GoldenRequest(*golden), absl::Seconds(60));
    });
  }
  for (auto& t : threads) t.join();

  int ok = 0, refused = 0;
  std::vector<double> refusal_ms;
  for (const StreamResult& r : results) {
    if (r.status.ok()) {
      ++ok;
      EXPECT_EQ(r.final_messages, 1);
      EXPECT_EQ(r.ids, golden->output_ids);
      EXPECT_EQ(r.text, golden->output_text);
      continue;
    }
    ASSERT_EQ(r.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
        << r.status.error_message() << (*cluster)->Logs();
    ++refused;
    EXPECT_EQ(r.messages, 0);  // an error is the only thing a refused request gets
    ASSERT_EQ(r.trailers.count("retry-after-ms"), 1u) << r.status.error_message();
    int hint = 0;
    EXPECT_TRUE(absl::SimpleAtoi(r.trailers.find("retry-after-ms")->second, &hint));
    EXPECT_GT(hint, 0);
    refusal_ms.push_back(absl::ToDoubleMilliseconds(r.total));
  }
  EXPECT_EQ(ok + refused, kRequests);
  EXPECT_GE(ok, 8);       // the slots and the queue were used...
  EXPECT_GE(refused, 1);  // ...and the rest was refused
  std::sort(refusal_ms.begin(), refusal_ms.end());
  if (!refusal_ms.empty()) {
    std::printf("[overload] %d completed, %d refused; refusal latency p50 %.2f ms, max %.2f ms\n",
                ok, refused, refusal_ms[refusal_ms.size() / 2], refusal_ms.back());
  }
  auto m = ScrapeMetrics((*cluster)->scheduler_metrics_port());
  ASSERT_TRUE(m.ok());
  EXPECT_EQ((*m)["corvid_scheduler_requests_total{code=\"OK\"}"], ok);
  EXPECT_EQ((*m)["corvid_scheduler_requests_total{code=\"RESOURCE_EXHAUSTED\"}"], refused);
  EXPECT_EQ((*m)["corvid_scheduler_rejections_total{reason=\"queue_full\"}"], refused);
  // Every refusal's latency is observed once, and a full queue is decided on the handler's
  // thread (queue places are reserved there), never by the core.
  const std::string count = "corvid_scheduler_rejection_latency_seconds_count";
  const double edge = (*m)[count + "{decided_on=\"edge\"}"];
  const double core = (*m)[count + "{decided_on=\"core\"}"];
  EXPECT_EQ(edge + core, refused);
  EXPECT_EQ(core, 0);
}

}  // namespace
}  // namespace corvid::testing
