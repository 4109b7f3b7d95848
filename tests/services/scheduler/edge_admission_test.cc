// The admission decision taken on the gRPC thread: queue places reserved before the core sees
// a request, and the checks AdmitAtEdge runs against the core's published view.
#include "services/scheduler/edge_admission.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "services/scheduler/queue_reservations.h"

namespace corvid::scheduler {
namespace {

QueueLimits Limits(int requests, int64_t tokens) {
  QueueLimits l;
  l.max_requests = requests;
  l.max_prompt_tokens = tokens;
  return l;
}

TEST(QueueReservationsTest, RefusesPastTheRequestLimitUntilAPlaceIsReleased) {
  QueueReservations q(Limits(2, 1000));
  ASSERT_TRUE(q.Reserve(QueueClass::kNormal, 10).ok());
  ASSERT_TRUE(q.Reserve(QueueClass::kNormal, 10).ok());
  absl::StatusOr<int> third = q.Reserve(QueueClass::kNormal, 10);
  EXPECT_EQ(third.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(q.requests(), 2);
  q.Release(QueueClass::kNormal, 10);
  EXPECT_TRUE(q.Reserve(QueueClass::kNormal, 10).ok());
  EXPECT_EQ(q.requests(), 2);
  EXPECT_EQ(q.prompt_tokens(), 20);
}

TEST(QueueReservationsTest, FreeWorkerSlotsAddPlaces) {
  QueueReservations q(Limits(2, 1000));
  q.SetFreeSlots(3);  // three requests go straight to a worker, two more may wait
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(q.Reserve(QueueClass::kNormal, 1).ok()) << i;
  EXPECT_TRUE(q.full());
  EXPECT_FALSE(q.Reserve(QueueClass::kNormal, 1).ok());
  // The core took the slots (dispatching three): the places shrink before three come back.
  q.SetFreeSlots(0);
  for (int i = 0; i < 3; ++i) q.Release(QueueClass::kNormal, 1);
  EXPECT_TRUE(q.full());  // the two left wait in the queue: its limit
  q.Release(QueueClass::kNormal, 1);
  EXPECT_TRUE(q.Reserve(QueueClass::kNormal, 1).ok());
  EXPECT_FALSE(q.Reserve(QueueClass::kNormal, 1).ok());
  q.SetFreeSlots(-4);  // a worker's credit can run negative; it gives no places
  EXPECT_TRUE(q.full());
}

TEST(QueueReservationsTest, RefusesPastThePromptTokenLimit) {
  QueueReservations q(Limits(10, 100));
  ASSERT_TRUE(q.Reserve(QueueClass::kNormal, 60).ok());
  absl::StatusOr<int> over = q.Reserve(QueueClass::kNormal, 41);
  EXPECT_EQ(over.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(over.status().message().find("prompt tokens"), std::string::npos);
  EXPECT_TRUE(q.Reserve(QueueClass::kNormal, 40).ok());
  EXPECT_EQ(q.prompt_tokens(), 100);
}

TEST(QueueReservationsTest, CountsAheadOnlyTheRequestsOfItsClassOrHigher) {
  QueueReservations q(Limits(10, 1000));
  EXPECT_EQ(*q.Reserve(QueueClass::kLow, 1), 0);
  EXPECT_EQ(*q.Reserve(QueueClass::kNormal, 1), 0);
  EXPECT_EQ(*q.Reserve(QueueClass::kNormal, 1), 1);
  EXPECT_EQ(*q.Reserve(QueueClass::kHigh, 1), 0);
  EXPECT_EQ(*q.Reserve(QueueClass::kNormal, 1), 3);  // two normal and one high
  EXPECT_EQ(*q.Reserve(QueueClass::kLow, 1), 5);
}

// Many handler threads reserving and releasing at once never hold more places than the
// limit, and every place comes back.
TEST(QueueReservationsTest, ConcurrentReservationsNeverExceedTheLimit) {
  constexpr int kLimit = 5;
  QueueReservations q(Limits(kLimit, 1 << 20));
  std::atomic<int> held{0};
  std::atomic<int> max_held{0};
  std::atomic<int> granted{0};
  std::atomic<int> refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        if (!q.Reserve(QueueClass::kNormal, 3).ok()) {
          refused.fetch_add(1);
          continue;
        }
        granted.fetch_add(1);
        const int now = held.fetch_add(1) + 1;
        int seen = max_held.load();
        while (now > seen && !max_held.compare_exchange_weak(seen, now)) {
        }
        held.fetch_sub(1);
        q.Release(QueueClass::kNormal, 3);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_LE(max_held.load(), kLimit);
  EXPECT_EQ(granted.load() + refused.load(), 8 * 2000);
  EXPECT_GT(granted.load(), 0);
  EXPECT_EQ(q.requests(), 0);
  EXPECT_EQ(q.prompt_tokens(), 0);
}

class AdmitAtEdgeTest : public ::testing::Test {
 protected:
  AdmitAtEdgeTest() : reservations_(Limits(2, 1000)) {
    limits_.name = "tiny";
    limits_.context_length = 256;
    limits_.vocab_size = 512;
    cluster_.live_workers = 1;
    cluster_.total_slots = 4;
    cluster_.free_slots = 0;
    cluster_.max_worker_tokens = 1024;
    cluster_.mean_service = absl::Seconds(4);  // one slot frees every second
    view_.limits = &limits_;
    view_.cluster = &cluster_;
    view_.full_queue_retry_hint = absl::Milliseconds(77);
    request_.max_tokens = 16;
  }

  Refusal Admit(absl::Time deadline = absl::InfiniteFuture()) {
    QueueEntry e;
    e.id = ++next_id_;
    e.prompt_tokens = static_cast<int>(prompt_.size());
    e.max_tokens = request_.max_tokens;
    e.arrival = now_;
    e.deadline = deadline;
    return AdmitAtEdge(e, prompt_, request_, view_, now_, &reservations_);
  }

  QueueReservations reservations_;
  ModelLimits limits_;
  ClusterView cluster_;
  EdgeView view_;
  ResolvedRequest request_;
  std::vector<int32_t> prompt_ = {1, 2, 3};
  absl::Time now_ = absl::FromUnixSeconds(1000);
  uint64_t next_id_ = 0;
};

TEST_F(AdmitAtEdgeTest, AdmittedRequestsHoldAPlaceAndAFullQueueIsRefusedWithTheHint) {
  EXPECT_TRUE(Admit().status.ok());
  EXPECT_TRUE(Admit().status.ok());
  EXPECT_EQ(reservations_.requests(), 2);
  Refusal full = Admit();
  EXPECT_EQ(full.status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(full.metric_reason, "queue_full");
  EXPECT_EQ(full.retry_after, absl::Milliseconds(77));
  EXPECT_EQ(reservations_.requests(), 2);
}

TEST_F(AdmitAtEdgeTest, ALateRequestIsRefusedAndGivesItsPlaceBack) {
  // With no free slot, the first in line starts when a slot frees (1 s from now).
  Refusal late = Admit(now_ + absl::Milliseconds(500));
  EXPECT_EQ(late.status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(late.metric_reason, "deadline");
  EXPECT_GT(late.retry_after, absl::ZeroDuration());
  EXPECT_EQ(reservations_.requests(), 0);
  // Later deadlines fit; the second in line waits one more slot (2 s).
  EXPECT_TRUE(Admit(now_ + absl::Milliseconds(1500)).status.ok());
  EXPECT_EQ(Admit(now_ + absl::Milliseconds(1500)).metric_reason, "deadline");
  EXPECT_TRUE(Admit(now_ + absl::Milliseconds(2500)).status.ok());
  EXPECT_EQ(reservations_.requests(), 2);
}

TEST_F(AdmitAtEdgeTest, InvalidPromptsAndMissingWorkersTakeNoPlace) {
  prompt_ = {1, 600};  // id beyond the vocabulary
  Refusal bad = Admit();
  EXPECT_EQ(bad.status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.metric_reason, "invalid");
  prompt_ = {1, 2, 3};
  cluster_.max_worker_tokens = 8;  // prompt + max_tokens fit no worker's cache
  Refusal big = Admit();
  EXPECT_EQ(big.status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(big.status.message().find("max_tokens"), std::string::npos);
  cluster_.live_workers = 0;
  Refusal none = Admit();
  EXPECT_EQ(none.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(none.metric_reason, "no_worker");
  EXPECT_EQ(reservations_.requests(), 0);
}

}  // namespace
}  // namespace corvid::scheduler
