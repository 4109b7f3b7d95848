#include "services/worker/worker_core.h"

#include <functional>
#include <map>
#include <thread>

#include <gtest/gtest.h>

#include "tests/services/worker/fake_backend.h"

namespace corvid::worker {
namespace {

using ::corvid::testing::FakeBackend;
using ::corvid::testing::FakeBackendControl;

class NullSink : public SessionSink {
 public:
  void Notify() override {}
};

// A WorkerCore over the fake backend, and one session whose output the test collects.
class WorkerCoreTest : public ::testing::Test {
 protected:
  struct RequestState {
    std::vector<int32_t> tokens;
    int logprobs = 0;
    int top_logprobs = 0;
    v1::SequenceFinish finish = v1::SEQUENCE_FINISH_NONE;
    int updates_after_finish = 0;
  };

  void Start(int num_blocks = 64, int block_size = 4, int max_sequences = 8) {
    control_ = std::make_shared<FakeBackendControl>();
    EngineOptions engine_options;
    engine_options.max_num_seqs = 8;
    engine_options.max_num_batched_tokens = 64;
    auto engine = Engine::Create(
        std::make_unique<FakeBackend>(num_blocks, block_size, control_), engine_options);
    ASSERT_TRUE(engine.ok()) << engine.status();
    WorkerCoreOptions options;
    options.model_name = "fake";
    options.backend_name = "fake";
    options.max_sequences = max_sequences;
    options.context_length = 256;
    core_ = std::make_unique<WorkerCore>(std::move(*engine), options);
    session_ = core_->OpenSession(std::make_shared<NullSink>());
  }

  v1::Admission Admission(uint64_t id, std::vector<int32_t> prompt, int max_tokens) {
    v1::Admission a;
    a.set_request_id(id);
    for (int32_t t : prompt) a.add_prompt_token_ids(t);
    a.mutable_sampling()->set_top_p(1);
    a.mutable_sampling()->set_repetition_penalty(1);
    a.set_max_tokens(max_tokens);
    return a;
  }

  void Send(std::vector<v1::Admission> admit, std::vector<uint64_t> cancel = {}) {
    v1::SessionRequest r;
    r.set_seq(++seq_);
    for (auto& a : admit) *r.add_admit() = a;
    for (uint64_t id : cancel) r.add_cancel(id);
    core_->Apply(session_, r);
  }

  // Takes output until `done` holds; false after 20 s (the engine is stuck).
  bool CollectUntil(const std::function<bool()>& done) {
    absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (!done()) {
      if (absl::Now() > deadline) return false;
      v1::SessionResponse out;
      if (!core_->TakeOutput(session_, &out)) {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
        continue;
      }
      Record(out);
    }
    return true;
  }

  void Record(const v1::SessionResponse& out) {
    ASSERT_TRUE(out.has_capacity());
    capacity_ = out.capacity();
    messages_.push_back(out);
    for (const auto& u : out.updates()) {
      RequestState& r = requests_[u.request_id()];
      if (r.finish != v1::SEQUENCE_FINISH_NONE) ++r.updates_after_finish;
      r.tokens.insert(r.tokens.end(), u.token_ids().begin(), u.token_ids().end());
      r.logprobs += u.logprobs_size();
      for (const auto& lp : u.logprobs()) r.top_logprobs += lp.top_logprobs_size();
      if (u.finish() != v1::SEQUENCE_FINISH_NONE) r.finish = u.finish();
    }
    for (const auto& refusal : out.refusals()) refusals_[refusal.request_id()] = refusal;
  }

  bool Finished(uint64_t id) {
    auto it = requests_.find(id);
    return it != requests_.end() && it->second.finish != v1::SEQUENCE_FINISH_NONE;
  }

  std::shared_ptr<FakeBackendControl> control_;
  std::unique_ptr<WorkerCore> core_;
  int session_ = 0;
  uint64_t seq_ = 0;
  v1::Capacity capacity_;
  std::vector<v1::SessionResponse> messages_;
  std::map<uint64_t, RequestState> requests_;
  std::map<uint64_t, v1::AdmissionRefusal> refusals_;
};

TEST_F(WorkerCoreTest, FirstOutputIsCapacityOnly) {
  Start();
  ASSERT_TRUE(CollectUntil([&] { return !messages_.empty(); }));
  EXPECT_EQ(messages_[0].updates_size(), 0);
  EXPECT_EQ(capacity_.total_blocks(), 64u);
  EXPECT_EQ(capacity_.available_blocks(), 64u);
  EXPECT_EQ(capacity_.block_size(), 4u);
  EXPECT_EQ(capacity_.free_slots(), 8u);
}

TEST_F(WorkerCoreTest, RequestsStreamTheirTokensAndReleaseTheirReservation) {
  Start();
  Send({Admission(10, {5, 6, 7}, 6), Admission(11, {9}, 4)});
  ASSERT_TRUE(CollectUntil([&] { return Finished(10) && Finished(11); }));
  EXPECT_EQ(requests_[10].tokens, FakeBackend::Continuation(7, 6));
  EXPECT_EQ(requests_[11].tokens, FakeBackend::Continuation(9, 4));
  EXPECT_EQ(requests_[10].finish, v1::SEQUENCE_FINISH_LENGTH);
  EXPECT_EQ(requests_[10].updates_after_finish, 0);
  EXPECT_EQ(capacity_.applied_seq(), 1u);
  EXPECT_EQ(capacity_.available_blocks(), 64u);
  EXPECT_EQ(capacity_.free_blocks(), 64u);
  EXPECT_EQ(capacity_.free_slots(), 8u);
  WorkerStats stats = core_->Stats();
  EXPECT_EQ(stats.generated_tokens, 10u);
  EXPECT_EQ(stats.prompt_tokens, 4u);
  EXPECT_EQ(stats.finished, 2u);
}

TEST_F(WorkerCoreTest, LogprobsOnlyWhenAsked) {
  Start();
  v1::Admission a = Admission(1, {4}, 3);
  a.mutable_sampling()->set_logprobs(true);
  a.mutable_sampling()->set_top_logprobs(2);
  Send({a, Admission(2, {4}, 3)});
  ASSERT_TRUE(CollectUntil([&] { return Finished(1) && Finished(2); }));
  EXPECT_EQ(requests_[1].logprobs, 3);
  EXPECT_EQ(requests_[1].top_logprobs, 6);
  EXPECT_EQ(requests_[2].logprobs, 0);
}

TEST_F(WorkerCoreTest, RefusesWhatItCannotHold) {
  Start(/*num_blocks=*/10, /*block_size=*/4, /*max_sequences=*/2);
  control_->step_delay_ms = 5;  // keep the first requests live while the others arrive
  // 3 prompt + 13 max = 16 tokens = 4 blocks each.
  Send({Admission(1, {1, 2, 3}, 13), Admission(1, {1}, 3), Admission(2, {1, 2, 3}, 13),
        Admission(3, {1}, 1)});
  ASSERT_TRUE(CollectUntil([&] { return refusals_.size() >= 2; }));
  EXPECT_EQ(refusals_[1].reason(), v1::REFUSAL_REASON_DUPLICATE_ID);
  EXPECT_EQ(refusals_[3].reason(), v1::REFUSAL_REASON_NO_CAPACITY);  // no slot left
  EXPECT_FALSE((refusals_.count(2) > 0));
  ASSERT_TRUE(CollectUntil([&] { return Finished(1) && Finished(2); }));
  // Slots free again, but 11 blocks (44 tokens) exceed the 10 there are.
  Send({Admission(4, {1, 2, 3, 4}, 40)});
  ASSERT_TRUE(CollectUntil([&] { return (refusals_.count(4) > 0); }));
  EXPECT_EQ(refusals_[4].reason(), v1::REFUSAL_REASON_NO_CAPACITY);
  EXPECT_FALSE((requests_.count(4) > 0));
  EXPECT_EQ(capacity_.available_blocks(), 10u);
}

TEST_F(WorkerCoreTest, EngineRejectionIsARefusalNamingTheField) {
  Start();
  Send({Admission(1, {1, 99}, 4)});  // id 99 is outside the fake vocabulary of 64
  ASSERT_TRUE(CollectUntil([&] { return (refusals_.count(1) > 0); }));
  EXPECT_EQ(refusals_[1].reason(), v1::REFUSAL_REASON_INVALID);
  EXPECT_NE(refusals_[1].message().find("prompt"), std::string::npos) << refusals_[1].message();
  ASSERT_TRUE(CollectUntil([&] { return capacity_.available_blocks() == 64u; }));
}

TEST_F(WorkerCoreTest, CancelFreesTheKvWithinOneStep) {
  Start();
  control_->step_delay_ms = 2;
  Send({Admission(1, {1, 2, 3, 4, 5}, 200)});
  ASSERT_TRUE(CollectUntil([&] { return requests_[1].tokens.size() >= 3; }));
  EXPECT_LT(capacity_.free_blocks(), 64u);
  // The engine may be inside a step when the cancel arrives; the cancel is applied right after
  // it, and the next step (the only one after the current) reports it with every block free.
  const uint64_t steps_before = core_->Stats().steps;
  Send({}, {1});
  ASSERT_TRUE(CollectUntil([&] { return Finished(1); }));
  EXPECT_EQ(requests_[1].finish, v1::SEQUENCE_FINISH_CANCELLED);
  EXPECT_EQ(capacity_.free_blocks(), 64u);
  EXPECT_EQ(capacity_.available_blocks(), 64u);
  EXPECT_LE(capacity_.steps(), steps_before + 2);
  EXPECT_EQ(core_->Stats().cancelled, 1u);
}

TEST_F(WorkerCoreTest, ClosingTheSessionCancelsItsRequests) {
  Start();
  control_->step_delay_ms = 2;
  Send({Admission(1, {1}, 100), Admission(2, {3}, 100)});  // 26 blocks each
  ASSERT_TRUE(CollectUntil([&] { return requests_[2].tokens.size() >= 2; }));
  core_->CloseSession(session_);
  absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (core_->Stats().live_requests > 0 && absl::Now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  WorkerStats stats = core_->Stats();
  EXPECT_EQ(stats.live_requests, 0);
  EXPECT_EQ(stats.cancelled, 2u);
  EXPECT_EQ(stats.reserved_blocks, 0);
  EXPECT_TRUE(core_->Idle());
}

TEST_F(WorkerCoreTest, EngineFailureFailsLiveRequestsAndRefusesNewOnes) {
  Start();
  control_->fail_from_step = 3;
  Send({Admission(1, {1}, 50)});
  ASSERT_TRUE(CollectUntil([&] { return Finished(1); }));
  EXPECT_EQ(requests_[1].finish, v1::SEQUENCE_FINISH_ERROR);
  EXPECT_FALSE(core_->EngineAlive());
  Send({Admission(2, {1}, 5)});
  ASSERT_TRUE(CollectUntil([&] { return (refusals_.count(2) > 0); }));
  EXPECT_EQ(refusals_[2].reason(), v1::REFUSAL_REASON_ENGINE_DEAD);
}

TEST_F(WorkerCoreTest, DrainingRefusesNewWorkAndFinishesLiveWork) {
  Start();
  control_->step_delay_ms = 2;
  Send({Admission(1, {1}, 20)});
  ASSERT_TRUE(CollectUntil([&] { return !requests_[1].tokens.empty(); }));
  core_->StartDraining();
  Send({Admission(2, {1}, 5)});
  ASSERT_TRUE(CollectUntil([&] { return (refusals_.count(2) > 0) && Finished(1); }));
  EXPECT_EQ(refusals_[2].reason(), v1::REFUSAL_REASON_DRAINING);
  EXPECT_EQ(requests_[1].finish, v1::SEQUENCE_FINISH_LENGTH);
  EXPECT_EQ(requests_[1].tokens.size(), 20u);
  EXPECT_TRUE(capacity_.draining());
  EXPECT_TRUE(core_->Idle());
}

TEST_F(WorkerCoreTest, SlowReaderGetsCoalescedUpdates) {
  Start();
  Send({Admission(1, {7}, 12)});
  // Do not read until the engine is done: all 12 tokens wait in one pending update.
  absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (core_->Stats().finished < 1 && absl::Now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  v1::SessionResponse out;
  ASSERT_TRUE(core_->TakeOutput(session_, &out));
  ASSERT_EQ(out.updates_size(), 1);
  EXPECT_EQ(out.updates(0).token_ids_size(), 12);
  EXPECT_EQ(out.updates(0).finish(), v1::SEQUENCE_FINISH_LENGTH);
  EXPECT_FALSE(core_->TakeOutput(session_, &out));
}

}  // namespace
}  // namespace corvid::worker
