#include "services/scheduler/worker_load.h"

#include <gtest/gtest.h>

#include "services/scheduler/dispatch_planner.h"

namespace corvid::scheduler {
namespace {

CapacityReport Report(uint64_t applied, int available, int slots, int total = 100) {
  CapacityReport r;
  r.applied_seq = applied;
  r.available_blocks = available;
  r.free_blocks = available;
  r.total_blocks = total;
  r.block_size = 16;
  r.free_slots = slots;
  return r;
}

TEST(WorkerLoadTest, NoCreditBeforeTheFirstReport) {
  WorkerLoad w(8);
  EXPECT_FALSE(w.Fits(1));
  w.OnCapacity(Report(0, 100, 8));
  EXPECT_TRUE(w.Fits(16 * 100));
  EXPECT_FALSE(w.Fits(16 * 100 + 1));
}

TEST(WorkerLoadTest, InFlightAdmissionsCountUntilTheWorkerReportsThem) {
  WorkerLoad w(8);
  w.OnCapacity(Report(0, 10, 8, 10));
  w.Reserve(40);  // 3 blocks
  w.Reserve(16);  // 1 block
  EXPECT_EQ(w.available_blocks(), 6);
  EXPECT_EQ(w.free_slots(), 6);
  uint64_t seq = w.Commit();
  EXPECT_EQ(seq, 1u);
  // A report from before the worker applied seq 1 still leaves the admissions in flight.
  w.OnCapacity(Report(0, 10, 8, 10));
  EXPECT_EQ(w.available_blocks(), 6);
  // Once applied, the report itself accounts for them.
  w.OnCapacity(Report(1, 6, 6, 10));
  EXPECT_EQ(w.available_blocks(), 6);
  EXPECT_EQ(w.free_slots(), 6);
  // A cancel-only message still takes a seq but no credit.
  EXPECT_EQ(w.Commit(), 2u);
  EXPECT_EQ(w.available_blocks(), 6);
}

TEST(WorkerLoadTest, RefusedAdmissionReturnsCreditWithTheReport) {
  WorkerLoad w(4);
  w.OnCapacity(Report(0, 4, 4, 4));
  w.Reserve(64);
  w.Commit();
  EXPECT_FALSE(w.Fits(1));
  // The worker refused it (nothing reserved there): its report after seq 1 shows all free.
  w.OnCapacity(Report(1, 4, 4, 4));
  EXPECT_TRUE(w.Fits(64));
}

TEST(WorkerLoadTest, DrainingOrNoSlotsMeansNoFit) {
  WorkerLoad w(2);
  CapacityReport r = Report(0, 100, 2);
  r.draining = true;
  w.OnCapacity(r);
  EXPECT_FALSE(w.Fits(1));
  w.OnCapacity(Report(0, 100, 0));
  EXPECT_FALSE(w.Fits(1));
}

TEST(PickWorkerTest, LeastLoadedThatFits) {
  WorkerLoad a(10), b(10), c(10);
  a.OnCapacity(Report(0, 50, 5));   // utilization 0.5
  b.OnCapacity(Report(0, 80, 9));   // 0.2
  c.OnCapacity(Report(0, 100, 10));  // 0, but dead below
  std::vector<const WorkerLoad*> ws = {&a, &b, nullptr};
  EXPECT_EQ(PickWorker(ws, 16), 1);
  // A request larger than b's credit goes nowhere but... nothing fits 81 blocks.
  EXPECT_EQ(PickWorker(ws, 16 * 81), -1);
  ws[2] = &c;
  EXPECT_EQ(PickWorker(ws, 16), 2);
}

QueueEntry Entry(uint64_t id, int prompt, int max_tokens) {
  QueueEntry e;
  e.id = id;
  e.prompt_tokens = prompt;
  e.max_tokens = max_tokens;
  return e;
}

TEST(PlanDispatchTest, SpreadsOverWorkersAndGroupsPerWorker) {
  WorkerLoad a(4), b(4);
  a.OnCapacity(Report(0, 8, 4, 8));
  b.OnCapacity(Report(0, 8, 4, 8));
  RequestQueue q(QueueLimits{});
  for (uint64_t id = 1; id <= 6; ++id) ASSERT_TRUE(q.Push(Entry(id, 20, 12)).ok());  // 2 blocks
  std::vector<WorkerLoad*> ws = {&a, &b};
  std::vector<DispatchBatch> batches = PlanDispatch(&q, ws);
  ASSERT_EQ(batches.size(), 2u);
  size_t total = batches[0].entries.size() + batches[1].entries.size();
  EXPECT_EQ(total, 6u);
  EXPECT_TRUE(q.empty());
  // Least-loaded alternation: each worker got 3 (6 of its 8 blocks).
  EXPECT_EQ(batches[0].entries.size(), 3u);
  EXPECT_EQ(a.available_blocks(), 2);
  EXPECT_EQ(b.available_blocks(), 2);
  EXPECT_EQ(batches[0].entries[0].id, 1u);
  EXPECT_EQ(batches[1].entries[0].id, 2u);
}

TEST(PlanDispatchTest, StopsAtAFrontThatFitsNowhere) {
  WorkerLoad a(4);
  a.OnCapacity(Report(0, 3, 4, 8));
  RequestQueue q(QueueLimits{});
  ASSERT_TRUE(q.Push(Entry(1, 16, 16)).ok());   // 2 blocks: fits
  ASSERT_TRUE(q.Push(Entry(2, 40, 20)).ok());   // 4 blocks: does not fit the 1 left
  ASSERT_TRUE(q.Push(Entry(3, 8, 8)).ok());     // 1 block: would fit, but must wait its turn
  std::vector<WorkerLoad*> ws = {&a};
  std::vector<DispatchBatch> batches = PlanDispatch(&q, ws);
  ASSERT_EQ(batches.size(), 1u);
  ASSERT_EQ(batches[0].entries.size(), 1u);
  EXPECT_EQ(batches[0].entries[0].id, 1u);
  EXPECT_EQ(q.size(), 2);
  EXPECT_EQ(q.Front()->id, 2u);
}

TEST(PlanDispatchTest, MaxBatchCapsOneWorkerPerRound) {
  WorkerLoad a(16);
  a.OnCapacity(Report(0, 100, 16));
  RequestQueue q(QueueLimits{});
  for (uint64_t id = 1; id <= 5; ++id) ASSERT_TRUE(q.Push(Entry(id, 4, 4)).ok());
  std::vector<WorkerLoad*> ws = {&a};
  std::vector<DispatchBatch> batches = PlanDispatch(&q, ws, /*max_batch=*/2);
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_EQ(batches[0].entries.size(), 2u);
  EXPECT_EQ(q.size(), 3);
}

}  // namespace
}  // namespace corvid::scheduler
