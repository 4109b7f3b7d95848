#include "services/scheduler/admission.h"

#include <gtest/gtest.h>

namespace corvid::scheduler {
namespace {

ClusterView View(int free_slots, int total_slots, absl::Duration service) {
  ClusterView v;
  v.live_workers = 1;
  v.total_slots = total_slots;
  v.free_slots = free_slots;
  v.max_worker_tokens = 1024;
  v.mean_service = service;
  return v;
}

TEST(DurationAverageTest, FirstSampleThenMovesTowardNewOnes) {
  DurationAverage avg(0.5);
  EXPECT_TRUE(avg.empty());
  EXPECT_EQ(avg.Get(absl::Seconds(7)), absl::Seconds(7));
  avg.Add(absl::Seconds(2));
  EXPECT_EQ(avg.Get(), absl::Seconds(2));
  avg.Add(absl::Seconds(4));
  EXPECT_EQ(avg.Get(), absl::Seconds(3));
}

TEST(EstimateStartDelayTest, FreeSlotsStartAtOnceThenOneSlotPerServiceShare) {
  ClusterView v = View(/*free_slots=*/2, /*total_slots=*/4, absl::Seconds(1));
  EXPECT_EQ(EstimateStartDelay(0, v), absl::ZeroDuration());
  EXPECT_EQ(EstimateStartDelay(1, v), absl::ZeroDuration());
  // The third in line waits for one of four slots to free: a quarter of a service time.
  EXPECT_EQ(EstimateStartDelay(2, v), absl::Milliseconds(250));
  EXPECT_EQ(EstimateStartDelay(5, v), absl::Seconds(1));
  v.total_slots = 0;
  v.free_slots = 0;
  EXPECT_EQ(EstimateStartDelay(0, v), absl::InfiniteDuration());
}

TEST(EstimateStartDelayTest, RunningRequestsFreeTheirSlotsInOrderOfTheirRemainingWork) {
  ClusterView v = View(/*free_slots=*/1, /*total_slots=*/3, absl::Seconds(10));
  v.running_remaining = {absl::Milliseconds(300), absl::Milliseconds(100)};
  EXPECT_EQ(EstimateStartDelay(0, v), absl::ZeroDuration());
  EXPECT_EQ(EstimateStartDelay(1, v), absl::Milliseconds(100));
  EXPECT_EQ(EstimateStartDelay(2, v), absl::Milliseconds(300));
  // Beyond them: after the last one, a third of a service time per request.
  EXPECT_EQ(EstimateStartDelay(3, v), absl::Milliseconds(300) + absl::Seconds(10) / 3);
}

TEST(CheckServableTest, NoWorkerIsUnavailableAndTooLargeNamesMaxTokens) {
  QueueEntry e;
  e.prompt_tokens = 1000;
  e.max_tokens = 100;
  ClusterView v = View(1, 1, absl::ZeroDuration());
  absl::Status s = CheckServable(e, v);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message().rfind("max_tokens", 0), 0u) << s;
  e.max_tokens = 24;
  EXPECT_TRUE(CheckServable(e, v).ok());
  v.live_workers = 0;
  EXPECT_EQ(CheckServable(e, v).code(), absl::StatusCode::kUnavailable);
}

TEST(CheckDeadlineTest, RefusesWhenTheEstimatedStartIsPastTheDeadline) {
  absl::Time now = absl::FromUnixSeconds(100);
  ClusterView v = View(0, 2, absl::Seconds(2));
  v.mean_first_token = absl::Milliseconds(100);
  QueueEntry e;
  e.deadline = now + absl::Seconds(5);
  // 3 ahead, no free slot: (3 + 1) * 2 s / 2 = 4 s + 0.1 s < 5 s.
  EXPECT_TRUE(CheckDeadline(e, 3, now, v).status.ok());
  // 4 ahead: 5 s + 0.1 s > 5 s.
  Refusal r = CheckDeadline(e, 4, now, v);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(r.metric_reason, "deadline");
  EXPECT_EQ(r.retry_after, absl::Seconds(5));
  e.deadline = absl::InfiniteFuture();
  EXPECT_TRUE(CheckDeadline(e, 1000, now, v).status.ok());
}

TEST(RetryHintTest, QueueMovesOneRequestPerServiceShare) {
  RequestQueue q(QueueLimits{});
  ClusterView v = View(0, 8, absl::Seconds(4));
  EXPECT_EQ(RetryHintForFullQueue(q, v), absl::Milliseconds(500));
  v.mean_service = absl::ZeroDuration();
  absl::Duration unknown = RetryHintForFullQueue(q, v);
  EXPECT_GT(unknown, absl::ZeroDuration());
  v.mean_service = absl::Microseconds(8);
  EXPECT_EQ(RetryHintForFullQueue(q, v), absl::Milliseconds(5));  // the floor
}

}  // namespace
}  // namespace corvid::scheduler
