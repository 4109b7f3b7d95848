// One of two tokenizer replicas dies under load: no request fails. Encode calls go to the other
// replica, and the streams it was detokenizing are replayed on the other replica's stream with
// the text already sent skipped, so every client still gets exactly the golden text.
#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "tests/services/integration/cluster.h"

namespace corvid::testing {
namespace {

TEST(TokenizerFailureTest, OneReplicaDownFailsNoRequest) {
  const std::string dir = std::string(CORVID_TEST_MODELS_DIR) + "/stories260K";
  auto golden = LoadGolden(dir);
  if (!golden.ok()) GTEST_SKIP() << golden.status();
  ClusterOptions options;
  options.model_dir = dir;
  options.tokenizers = 2;
  options.worker_args = {"--min-step-ms", "2"};  // a request streams for ~80 ms
  auto started = Cluster::Start(options);
  ASSERT_TRUE(started.ok()) << started.status();
  Cluster& cluster = **started;
  auto stub = cluster.NewStub();

  constexpr int kThreads = 6;
  constexpr int kPerThread = 8;
  std::atomic<int> done{0};
  std::vector<std::vector<StreamResult>> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        results[t].push_back(RunStream(stub.get(), GoldenRequest(*golden), absl::Seconds(60)));
        ++done;
      }
    });
  }
  // Kill one replica once a third of the requests are done: others are mid-stream then.
  while (done.load() < kThreads * kPerThread / 3) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  cluster.tokenizer(0).Signal(SIGKILL);
  for (auto& t : threads) t.join();
  int ok = 0;
  for (const auto& per_thread : results) {
    for (const StreamResult& r : per_thread) {
      ASSERT_TRUE(r.status.ok()) << r.status.error_message() << cluster.Logs();
      EXPECT_EQ(r.ids, golden->output_ids);
      EXPECT_EQ(r.text, golden->output_text);
      EXPECT_EQ(r.final_messages, 1);
      ++ok;
    }
  }
  EXPECT_EQ(ok, kThreads * kPerThread);
  // And with the replica still down, new requests keep working.
  StreamResult r = RunStream(stub.get(), GoldenRequest(*golden), absl::Seconds(30));
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_EQ(r.text, golden->output_text);
}

}  // namespace
}  // namespace corvid::testing
