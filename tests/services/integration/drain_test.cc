// SIGTERM on the scheduler under load: every admitted stream runs to its end, new calls are
// refused, and the process exits 0.
#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "tests/services/integration/cluster.h"

namespace corvid::testing {
namespace {

TEST(DrainTest, SigtermFinishesAdmittedStreamsAndExitsZero) {
  const std::string dir = std::string(CORVID_TEST_MODELS_DIR) + "/stories260K";
  auto golden = LoadGolden(dir);
  if (!golden.ok()) GTEST_SKIP() << golden.status();
  ClusterOptions options;
  options.model_dir = dir;
  options.worker_args = {"--min-step-ms", "5"};  // 40 tokens take ~200 ms
  auto started = Cluster::Start(options);
  ASSERT_TRUE(started.ok()) << started.status();
  Cluster& cluster = **started;
  auto stub = cluster.NewStub();

  constexpr int kStreams = 16;
  std::atomic<int> streaming{0};
  std::vector<StreamResult> results(kStreams);
  std::vector<std::thread> threads;
  for (int i = 0; i < kStreams; ++i) {
    threads.emplace_back([&, i] {
      bool counted = false;
      results[i] = RunStream(stub.get(), GoldenRequest(*golden), absl::Seconds(60),
                             [&](const v1::GenerateResponse& m, grpc::ClientContext*) {
                               if (!counted && m.token_ids_size() > 0) {
                                 counted = true;
                                 ++streaming;
                               }
                             });
    });
  }
  for (int i = 0; i < 2000 && streaming.load() < kStreams; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ASSERT_EQ(streaming.load(), kStreams);
  cluster.scheduler().Signal(SIGTERM);
  // A call made while it drains is refused (UNAVAILABLE), or finds the port closed.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  StreamResult late = RunStream(stub.get(), GoldenRequest(*golden), absl::Seconds(5));
  for (auto& t : threads) t.join();
  for (const StreamResult& r : results) {
    ASSERT_TRUE(r.status.ok()) << r.status.error_message() << cluster.Logs();
    EXPECT_EQ(r.ids, golden->output_ids);
    EXPECT_EQ(r.text, golden->output_text);
    EXPECT_EQ(r.final_messages, 1);
  }
  EXPECT_EQ(late.status.error_code(), grpc::StatusCode::UNAVAILABLE) << late.status.error_message();
  absl::StatusOr<int> exit_code = cluster.scheduler().Wait(absl::Seconds(20));
  ASSERT_TRUE(exit_code.ok()) << exit_code.status();
  EXPECT_EQ(*exit_code, 0) << cluster.scheduler().Log();
}

}  // namespace
}  // namespace corvid::testing
