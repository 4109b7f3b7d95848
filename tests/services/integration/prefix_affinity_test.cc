// Two workers with prefix caching behind one scheduler, on stories260K. While one worker is
// busier (a long request of the same prompt family runs there), later requests of that family
// still go to it with prefix affinity, and hit its cache (worker metrics); without affinity the
// least loaded (other) worker gets them.
#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "absl/time/clock.h"
#include "tests/services/integration/cluster.h"

namespace corvid::testing {
namespace {

const std::string kModelDir = std::string(CORVID_TEST_MODELS_DIR) + "/stories260K";

v1::GenerateRequest IdsRequest(const std::vector<int32_t>& prompt, int max_tokens) {
  v1::GenerateRequest request;
  request.mutable_token_ids()->mutable_ids()->Add(prompt.begin(), prompt.end());
  request.set_max_tokens(max_tokens);
  request.set_ignore_eos(true);
  request.mutable_sampling()->set_temperature(0);
  return request;
}

// 48 shared tokens (three blocks of 16) and a tail of four that differs per request.
std::vector<int32_t> FamilyPrompt(int tail) {
  std::vector<int32_t> p = {1};
  for (int i = 1; i < 48; ++i) p.push_back(300 + (i * 37) % 200);
  for (int i = 0; i < 4; ++i) p.push_back(260 + tail * 4 + i);
  return p;
}

double Metric(int port, const std::string& name) {
  auto metrics = ScrapeMetrics(port);
  if (!metrics.ok()) return -1;
  auto it = metrics->find(name);
  return it == metrics->end() ? 0 : it->second;
}

struct WorkerCounts {
  double admitted[2] = {0, 0};
  double hits[2] = {0, 0};
  double queried[2] = {0, 0};
};

// The family's first request alone, then a long one of the family running while three more
// are sent one after another. Returns per-worker counters and the worker of the first request.
WorkerCounts RunScenario(Cluster* cluster, int* first_worker) {
  auto stub = cluster->NewStub();
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (Metric(cluster->scheduler_metrics_port(), "corvid_scheduler_live_workers") < 2 &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  StreamResult first = RunStream(stub.get(), IdsRequest(FamilyPrompt(0), 4), absl::Seconds(30));
  EXPECT_TRUE(first.status.ok()) << first.status.error_message();
  *first_worker = Metric(cluster->worker_metrics_port(0), "corvid_worker_admitted_total") > 0 ? 0
                                                                                              : 1;
  std::atomic<bool> started{false};
  std::thread blocker([&] {
    StreamResult r = RunStream(
        stub.get(), IdsRequest(FamilyPrompt(1), 300), absl::Seconds(60),
        [&](const v1::GenerateResponse&, grpc::ClientContext*) { started = true; });
    EXPECT_TRUE(r.status.ok()) << r.status.error_message();
  });
  while (!started && absl::Now() < deadline + absl::Seconds(10)) {
    absl::SleepFor(absl::Milliseconds(2));
  }
  for (int tail = 2; tail < 5; ++tail) {
    StreamResult r =
        RunStream(stub.get(), IdsRequest(FamilyPrompt(tail), 4), absl::Seconds(30));
    EXPECT_TRUE(r.status.ok()) << r.status.error_message();
    EXPECT_EQ(r.ids.size(), 4u);
  }
  blocker.join();
  absl::SleepFor(absl::Milliseconds(300));  // the workers' metrics refresh every 100 ms
  WorkerCounts counts;
  for (int w = 0; w < 2; ++w) {
    const int port = cluster->worker_metrics_port(w);
    counts.admitted[w] = Metric(port, "corvid_worker_admitted_total");
    counts.hits[w] = Metric(port, "corvid_worker_prefix_cache_hit_tokens_total");
    counts.queried[w] = Metric(port, "corvid_worker_prefix_cache_queried_tokens_total");
  }
  return counts;
}

ClusterOptions TwoWorkers(std::vector<std::string> scheduler_args) {
  ClusterOptions options;
  options.model_dir = kModelDir;
  options.workers = 2;
  // Paced steps keep the long request running while the others are sent.
  options.worker_args = {"--max-sequences", "8", "--min-step-ms", "5", "--block-size", "16"};
  options.scheduler_args = std::move(scheduler_args);
  return options;
}

TEST(PrefixAffinityIntegrationTest, RepeatedPrefixStaysOnItsWorkerAndHitsTheCache) {
  if (!LoadGolden(kModelDir).ok()) GTEST_SKIP() << "no stories260K in " CORVID_TEST_MODELS_DIR;
  auto cluster = Cluster::Start(TwoWorkers({}));
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  int home = -1;
  const WorkerCounts c = RunScenario(cluster->get(), &home);
  const int other = 1 - home;
  EXPECT_EQ(c.admitted[home], 5) << (*cluster)->Logs();
  EXPECT_EQ(c.admitted[other], 0);
  // The long request and the three after it each find the 48 shared tokens cached.
  EXPECT_EQ(c.hits[home], 4 * 48);
  EXPECT_EQ(c.queried[home], 5 * 52);
  EXPECT_GE(Metric((*cluster)->scheduler_metrics_port(),
                   "corvid_scheduler_prefix_affinity_routed_total"),
            4);
}

TEST(PrefixAffinityIntegrationTest, WithoutAffinityTheLeastLoadedWorkerGetsThem) {
  if (!LoadGolden(kModelDir).ok()) GTEST_SKIP() << "no stories260K in " CORVID_TEST_MODELS_DIR;
  auto cluster = Cluster::Start(TwoWorkers({"--prefix-affinity=false"}));
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  int home = -1;
  const WorkerCounts c = RunScenario(cluster->get(), &home);
  const int other = 1 - home;
  // The three short requests went to the idle worker: it computed the prefix once, then hit.
  EXPECT_EQ(c.admitted[other], 3) << (*cluster)->Logs();
  EXPECT_EQ(c.hits[other], 2 * 48);
  EXPECT_EQ(Metric((*cluster)->scheduler_metrics_port(),
                   "corvid_scheduler_prefix_affinity_routed_total"),
            0);
}

}  // namespace
}  // namespace corvid::testing
