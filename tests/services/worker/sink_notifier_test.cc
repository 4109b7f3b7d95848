// SinkNotifier: sinks posted by one thread are notified on another, every post is followed by
// a notification of its sink (none lost), posts made while the notifier is busy coalesce, and
// destruction with posts pending neither hangs nor notifies afterwards.
#include "services/worker/sink_notifier.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "absl/synchronization/notification.h"
#include "services/worker/worker_core.h"

namespace corvid::worker {
namespace {

class CountingSink : public SessionSink {
 public:
  void Notify() override {
    {
      absl::MutexLock lock(&mu_);
      ++count_;
      thread_ = std::this_thread::get_id();
    }
    if (block_ != nullptr) block_->WaitForNotification();  // holds the notifier busy
  }
  int count() {
    absl::MutexLock lock(&mu_);
    return count_;
  }
  std::thread::id thread() {
    absl::MutexLock lock(&mu_);
    return thread_;
  }
  // Waits (bounded) until the count exceeds `n`.
  bool WaitAbove(int n) {
    absl::MutexLock lock(&mu_);
    auto above = [this, n]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return count_ > n; };
    return mu_.AwaitWithTimeout(absl::Condition(&above), absl::Seconds(10));
  }
  absl::Notification* block_ = nullptr;

 private:
  absl::Mutex mu_;
  int count_ = 0;
  std::thread::id thread_;
};

TEST(SinkNotifierTest, NotifiesOnItsOwnThreadAfterEveryPost) {
  SinkNotifier notifier;
  auto a = std::make_shared<CountingSink>();
  auto b = std::make_shared<CountingSink>();
  for (int i = 0; i < 50; ++i) {
    const int before_a = a->count();
    notifier.Post({a});
    ASSERT_TRUE(a->WaitAbove(before_a)) << "post " << i << " was never followed by a notify";
  }
  notifier.Post({a, b});
  ASSERT_TRUE(b->WaitAbove(0));
  EXPECT_NE(a->thread(), std::this_thread::get_id());
  EXPECT_EQ(a->thread(), b->thread());
  notifier.Post({});  // nothing to do, and no wake-up
}

TEST(SinkNotifierTest, PostsWhileBusyCoalesce) {
  SinkNotifier notifier;
  absl::Notification release;
  auto slow = std::make_shared<CountingSink>();
  auto other = std::make_shared<CountingSink>();
  slow->block_ = &release;
  notifier.Post({slow});
  ASSERT_TRUE(slow->WaitAbove(0));  // the notifier is now inside slow's Notify
  for (int i = 0; i < 100; ++i) notifier.Post({other, other});
  release.Notify();
  ASSERT_TRUE(other->WaitAbove(0));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // any extra ones would show
  EXPECT_EQ(other->count(), 1);  // 200 posts of one sink while busy: one notification
  EXPECT_EQ(slow->count(), 1);
}

TEST(SinkNotifierTest, DestroyedWithPostsPendingStops) {
  absl::Notification release;
  auto slow = std::make_shared<CountingSink>();
  auto pending = std::make_shared<CountingSink>();
  slow->block_ = &release;
  std::thread releaser;
  {
    SinkNotifier notifier;
    notifier.Post({slow});
    ASSERT_TRUE(slow->WaitAbove(0));
    notifier.Post({pending});
    releaser = std::thread([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      release.Notify();
    });
  }  // joins once slow's Notify returns; `pending` is dropped
  releaser.join();
  EXPECT_EQ(pending->count(), 0);
}

}  // namespace
}  // namespace corvid::worker
