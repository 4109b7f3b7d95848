#include "services/scheduler/request_queue.h"

#include <gtest/gtest.h>

namespace corvid::scheduler {
namespace {

QueueEntry Entry(uint64_t id, QueueClass c = QueueClass::kNormal, int prompt = 10,
                 absl::Time deadline = absl::InfiniteFuture()) {
  QueueEntry e;
  e.id = id;
  e.priority = c;
  e.prompt_tokens = prompt;
  e.max_tokens = 5;
  e.deadline = deadline;
  return e;
}

std::vector<uint64_t> Drain(RequestQueue* q) {
  std::vector<uint64_t> ids;
  while (!q->empty()) ids.push_back(q->PopFront().id);
  return ids;
}

TEST(RequestQueueTest, HigherClassFirstThenArrivalOrder) {
  RequestQueue q(QueueLimits{});
  ASSERT_TRUE(q.Push(Entry(1, QueueClass::kLow)).ok());
  ASSERT_TRUE(q.Push(Entry(2, QueueClass::kNormal)).ok());
  ASSERT_TRUE(q.Push(Entry(3, QueueClass::kHigh)).ok());
  ASSERT_TRUE(q.Push(Entry(4, QueueClass::kNormal)).ok());
  ASSERT_TRUE(q.Push(Entry(5, QueueClass::kHigh)).ok());
  EXPECT_EQ(q.CountAhead(QueueClass::kHigh), 2);
  EXPECT_EQ(q.CountAhead(QueueClass::kNormal), 4);
  EXPECT_EQ(q.CountAhead(QueueClass::kLow), 5);
  EXPECT_EQ(Drain(&q), (std::vector<uint64_t>{3, 5, 2, 4, 1}));
}

TEST(RequestQueueTest, RequestLimitRefusesWithResourceExhausted) {
  RequestQueue q(QueueLimits{.max_requests = 2, .max_prompt_tokens = 1000});
  ASSERT_TRUE(q.Push(Entry(1)).ok());
  ASSERT_TRUE(q.Push(Entry(2)).ok());
  absl::Status s = q.Push(Entry(3));
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(s.message().find("requests"), std::string::npos) << s;
  EXPECT_EQ(q.size(), 2);
}

TEST(RequestQueueTest, PromptTokenLimitCountsQueuedTokens) {
  RequestQueue q(QueueLimits{.max_requests = 100, .max_prompt_tokens = 25});
  ASSERT_TRUE(q.Push(Entry(1, QueueClass::kNormal, 10)).ok());
  ASSERT_TRUE(q.Push(Entry(2, QueueClass::kNormal, 10)).ok());
  absl::Status s = q.Push(Entry(3, QueueClass::kNormal, 10));
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(s.message().find("prompt tokens"), std::string::npos) << s;
  EXPECT_TRUE(q.Push(Entry(4, QueueClass::kNormal, 5)).ok());
  EXPECT_EQ(q.prompt_tokens(), 25);
  q.PopFront();
  EXPECT_EQ(q.prompt_tokens(), 15);
  EXPECT_TRUE(q.Push(Entry(3, QueueClass::kNormal, 10)).ok());
}

TEST(RequestQueueTest, DuplicateIdIsRefused) {
  RequestQueue q(QueueLimits{});
  ASSERT_TRUE(q.Push(Entry(7)).ok());
  EXPECT_EQ(q.Push(Entry(7)).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(q.PushFront(Entry(7)).code(), absl::StatusCode::kAlreadyExists);
}

TEST(RequestQueueTest, PushFrontGoesAheadOfItsClassOnlyAndIgnoresLimits) {
  RequestQueue q(QueueLimits{.max_requests = 2, .max_prompt_tokens = 1000});
  ASSERT_TRUE(q.Push(Entry(1, QueueClass::kHigh)).ok());
  ASSERT_TRUE(q.Push(Entry(2, QueueClass::kNormal)).ok());
  ASSERT_TRUE(q.PushFront(Entry(3, QueueClass::kNormal)).ok());
  ASSERT_TRUE(q.PushFront(Entry(4, QueueClass::kNormal)).ok());
  EXPECT_EQ(Drain(&q), (std::vector<uint64_t>{1, 4, 3, 2}));
}

TEST(RequestQueueTest, RemoveKeepsAccountingRight) {
  RequestQueue q(QueueLimits{});
  ASSERT_TRUE(q.Push(Entry(1, QueueClass::kHigh, 3)).ok());
  ASSERT_TRUE(q.Push(Entry(2, QueueClass::kNormal, 4)).ok());
  ASSERT_TRUE(q.Push(Entry(3, QueueClass::kNormal, 5)).ok());
  EXPECT_TRUE(q.Remove(2));
  EXPECT_FALSE(q.Remove(2));
  EXPECT_FALSE(q.Contains(2));
  EXPECT_EQ(q.prompt_tokens(), 8);
  EXPECT_EQ(q.CountAhead(QueueClass::kNormal), 2);
  EXPECT_EQ(Drain(&q), (std::vector<uint64_t>{1, 3}));
  EXPECT_EQ(q.NextDeadline(), absl::InfiniteFuture());
}

TEST(RequestQueueTest, PopExpiredReturnsOnlyPastDeadlines) {
  RequestQueue q(QueueLimits{});
  absl::Time t0 = absl::FromUnixSeconds(1000);
  ASSERT_TRUE(q.Push(Entry(1, QueueClass::kNormal, 1, t0 + absl::Seconds(3))).ok());
  ASSERT_TRUE(q.Push(Entry(2, QueueClass::kNormal, 1, t0 + absl::Seconds(1))).ok());
  ASSERT_TRUE(q.Push(Entry(3)).ok());
  ASSERT_TRUE(q.Push(Entry(4, QueueClass::kHigh, 1, t0 + absl::Seconds(2))).ok());
  EXPECT_EQ(q.NextDeadline(), t0 + absl::Seconds(1));
  EXPECT_TRUE(q.PopExpired(t0).empty());
  std::vector<QueueEntry> expired = q.PopExpired(t0 + absl::Seconds(2));
  ASSERT_EQ(expired.size(), 2u);
  EXPECT_EQ(expired[0].id, 2u);
  EXPECT_EQ(expired[1].id, 4u);
  EXPECT_EQ(q.NextDeadline(), t0 + absl::Seconds(3));
  EXPECT_EQ(Drain(&q), (std::vector<uint64_t>{1, 3}));
}

}  // namespace
}  // namespace corvid::scheduler
