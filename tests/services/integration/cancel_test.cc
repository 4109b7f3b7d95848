// Cancellation and deadlines reach the worker: the request's KV blocks are freed at once (the
// worker's reservation and block gauges return to idle) and the client sees CANCELLED /
// DEADLINE_EXCEEDED.
#include <thread>

#include <gtest/gtest.h>

#include "absl/time/clock.h"
#include "tests/services/integration/cluster.h"

namespace corvid::testing {
namespace {

class CancelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string dir = std::string(CORVID_TEST_MODELS_DIR) + "/stories260K";
    auto golden = LoadGolden(dir);
    if (!golden.ok()) GTEST_SKIP() << golden.status();
    golden_ = *golden;
    ClusterOptions options;
    options.model_dir = dir;
    // 5 ms per step: a 400-token request runs for 2 s, long enough to cancel mid-stream.
    options.worker_args = {"--min-step-ms", "5"};
    auto cluster = Cluster::Start(options);
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = std::move(*cluster);
    stub_ = cluster_->NewStub();
  }

  v1::GenerateRequest LongRequest() {
    v1::GenerateRequest request = GoldenRequest(golden_);
    request.set_max_tokens(400);
    return request;
  }

  std::map<std::string, double> WorkerMetrics() {
    auto m = ScrapeMetrics(cluster_->worker_metrics_port(0));
    EXPECT_TRUE(m.ok()) << m.status();
    return m.ok() ? *m : std::map<std::string, double>{};
  }

  // Polls the worker's gauges until no request is live (bounded, then fails).
  std::map<std::string, double> WaitWorkerIdle() {
    std::map<std::string, double> m;
    for (int i = 0; i < 500; ++i) {
      m = WorkerMetrics();
      if (m["corvid_worker_live_requests"] == 0 && m["corvid_worker_kv_blocks_reserved"] == 0 &&
          m["corvid_worker_kv_blocks_free"] == m["corvid_worker_kv_blocks_total"]) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return m;
  }

  Golden golden_;
  std::unique_ptr<Cluster> cluster_;
  std::unique_ptr<v1::Generation::Stub> stub_;
};

TEST_F(CancelTest, ClientCancelFreesTheRequestsKvOnTheWorker) {
  bool saw_kv_in_use = false;
  int messages = 0;
  StreamResult r = RunStream(stub_.get(), LongRequest(), absl::Seconds(30),
                             [&](const v1::GenerateResponse&, grpc::ClientContext* context) {
                               if (++messages == 5) {
                                 auto m = WorkerMetrics();
                                 saw_kv_in_use = m["corvid_worker_kv_blocks_reserved"] > 0 &&
                                                 m["corvid_worker_live_requests"] == 1;
                                 context->TryCancel();
                               }
                             });
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::CANCELLED) << r.status.error_message();
  EXPECT_TRUE(saw_kv_in_use);
  EXPECT_LT(r.ids.size(), 400u);
  auto m = WaitWorkerIdle();
  EXPECT_EQ(m["corvid_worker_live_requests"], 0);
  EXPECT_EQ(m["corvid_worker_kv_blocks_reserved"], 0);
  EXPECT_EQ(m["corvid_worker_kv_blocks_free"], m["corvid_worker_kv_blocks_total"]);
  EXPECT_EQ(m["corvid_worker_cancelled_total"], 1);
  // The worker stopped generating for it: far fewer than 400 tokens came out.
  EXPECT_LT(m["corvid_worker_generated_tokens_total"], 400);
}

TEST_F(CancelTest, ExpiredDeadlineIsDeadlineExceededAndFreesTheKv) {
  StreamResult r = RunStream(stub_.get(), LongRequest(), absl::Milliseconds(300));
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED)
      << r.status.error_message();
  EXPECT_GT(r.ids.size(), 0u);  // it was running when the deadline passed
  auto m = WaitWorkerIdle();
  EXPECT_EQ(m["corvid_worker_live_requests"], 0);
  EXPECT_EQ(m["corvid_worker_kv_blocks_reserved"], 0);
  EXPECT_EQ(m["corvid_worker_kv_blocks_free"], m["corvid_worker_kv_blocks_total"]);
  EXPECT_EQ(m["corvid_worker_cancelled_total"], 1);
  EXPECT_LT(m["corvid_worker_generated_tokens_total"], 400);
  // The scheduler counted it under its code. The client's own deadline can fire a moment before
  // the scheduler finishes the call, so give the count a bounded moment to appear.
  const std::string key = "corvid_scheduler_requests_total{code=\"DEADLINE_EXCEEDED\"}";
  double counted = 0, cancelled = 0;
  for (int attempt = 0; attempt < 40 && counted == 0; ++attempt) {
    if (attempt > 0) absl::SleepFor(absl::Milliseconds(50));
    auto s = ScrapeMetrics(cluster_->scheduler_metrics_port());
    ASSERT_TRUE(s.ok());
    counted = (*s)[key];
    cancelled = (*s)["corvid_scheduler_requests_total{code=\"CANCELLED\"}"];
  }
  EXPECT_EQ(counted, 1) << "counted as CANCELLED: " << cancelled;
}

TEST_F(CancelTest, ADeadlineThatCannotBeMetIsRefusedUpFront) {
  // Fill the only worker's 64 slots with long requests (2 s each), then ask for a first token
  // within 20 ms: no slot frees before ~1 s, so the scheduler refuses it at once.
  std::vector<std::thread> load;
  std::vector<StreamResult> results(64);
  for (int i = 0; i < 64; ++i) {
    load.emplace_back([&, i] {
      results[i] = RunStream(stub_.get(), LongRequest(), absl::Seconds(5));
    });
  }
  // Wait until the worker holds all 64 (its every slot), however slow this machine is.
  for (int i = 0; i < 500 && WorkerMetrics()["corvid_worker_live_requests"] < 64; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(WorkerMetrics()["corvid_worker_live_requests"], 64);
  StreamResult late = RunStream(stub_.get(), GoldenRequest(golden_), absl::Milliseconds(20));
  for (auto& t : load) t.join();
  EXPECT_EQ(late.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << late.status.error_message();
  EXPECT_NE(late.status.error_message().find("deadline"), std::string::npos);
  EXPECT_EQ(late.trailers.count("retry-after-ms"), 1u);
}

}  // namespace
}  // namespace corvid::testing
