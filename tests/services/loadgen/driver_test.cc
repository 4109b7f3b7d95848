// The driver against a fake target that completes requests on its own thread after a delay.
#include "services/loadgen/driver.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "gtest/gtest.h"

namespace corvid::loadgen {
namespace {

class FakeTarget : public Target {
 public:
  explicit FakeTarget(std::chrono::microseconds service_time) : service_time_(service_time) {
    thread_ = std::thread([this] { Loop(); });
  }
  ~FakeTarget() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  TargetInfo Info() const override { return {"fake", 100, 100}; }
  void Start(const RequestSpec& spec, RequestRecord* record, std::function<void()> done) override {
    const int now = ++in_flight_;
    int seen = max_in_flight_.load();
    while (now > seen && !max_in_flight_.compare_exchange_weak(seen, now)) {
    }
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back({spec.max_tokens, record, std::move(done)});
    cv_.notify_all();
  }
  int max_in_flight() const { return max_in_flight_; }

 private:
  struct Item {
    int tokens;
    RequestRecord* record;
    std::function<void()> done;
  };
  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      Item item = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      std::this_thread::sleep_for(service_time_);
      item.record->chunks.push_back({NowNs(), item.tokens});
      item.record->end_ns = NowNs();
      item.record->code = absl::StatusCode::kOk;
      --in_flight_;
      item.done();
      lock.lock();
    }
  }

  std::chrono::microseconds service_time_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;
  bool stop_ = false;
  std::atomic<int> in_flight_{0}, max_in_flight_{0};
  std::thread thread_;
};

std::vector<RequestSpec> Specs() {
  std::vector<RequestSpec> specs(3);
  for (int i = 0; i < 3; ++i) specs[i].max_tokens = i + 1;
  return specs;
}

TEST(DriverTest, ClosedLoopSendsExactlyNAndNeverExceedsTheConcurrency) {
  FakeTarget target(std::chrono::microseconds(200));
  RunOptions o;
  o.closed_loop = true;
  o.concurrency = 4;
  o.num_requests = 50;
  const RunResult run = RunLoad(target, Specs(), o);
  ASSERT_EQ(run.records.size(), 50u);
  EXPECT_LE(target.max_in_flight(), 4);
  EXPECT_EQ(target.max_in_flight(), 4);  // the fake serves one at a time, so the window fills
  for (size_t i = 0; i < run.records.size(); ++i) {
    const RequestRecord& r = run.records[i];
    EXPECT_EQ(r.code, absl::StatusCode::kOk);
    EXPECT_EQ(r.chunks.at(0).tokens, static_cast<int>(i % 3) + 1);  // specs cycle in order
    EXPECT_LE(r.sent_ns, r.end_ns);
    EXPECT_LE(r.end_ns, run.finished_ns);
  }
}

TEST(DriverTest, ClosedLoopStopsSendingAtTheDuration) {
  FakeTarget target(std::chrono::microseconds(1000));
  RunOptions o;
  o.closed_loop = true;
  o.concurrency = 2;
  o.duration_s = 0.1;
  const RunResult run = RunLoad(target, Specs(), o);
  EXPECT_GT(run.records.size(), 2u);
  for (const RequestRecord& r : run.records) {
    EXPECT_LT(r.sent_ns - run.origin_ns, static_cast<int64_t>(0.1e9));
    EXPECT_EQ(r.code, absl::StatusCode::kOk);  // everything sent was waited for
  }
}

TEST(DriverTest, OpenLoopSendsAtTheArrivalTimesWhateverTheServiceTime) {
  // Service slower than the arrivals: a closed loop would slow down, an open loop must not.
  FakeTarget target(std::chrono::microseconds(2000));
  RunOptions o;
  o.arrivals.rate = 2000;
  o.arrivals.seed = 4;
  o.num_requests = 40;
  const RunResult run = RunLoad(target, Specs(), o);
  const std::vector<double> offsets = ArrivalOffsets(o.arrivals, 40, 0);
  ASSERT_EQ(run.records.size(), offsets.size());
  for (size_t i = 0; i < offsets.size(); ++i) {
    const RequestRecord& r = run.records[i];
    EXPECT_EQ(r.scheduled_ns - run.origin_ns, static_cast<int64_t>(offsets[i] * 1e9));
    EXPECT_GE(r.sent_ns, r.scheduled_ns);
  }
  EXPECT_GT(target.max_in_flight(), 1);  // requests piled up behind the slow fake
}

TEST(DriverTest, UnboundedRunsAreRejected) {
  RunOptions o;
  EXPECT_FALSE(ValidateRunOptions(o).ok());
  o.num_requests = 1;
  EXPECT_TRUE(ValidateRunOptions(o).ok());
  o.closed_loop = true;
  o.concurrency = 0;
  EXPECT_FALSE(ValidateRunOptions(o).ok());
}

}  // namespace
}  // namespace corvid::loadgen
