// The engine loop over a fake backend (fake_backend.h): planning, budgets, finish reasons,
// validation, cancel and preemption, with every token checked against a direct computation.
#include <map>
#include <memory>
#include <random>
#include <set>
#include <vector>

#include "engine/engine.h"
#include "gtest/gtest.h"
#include "tests/engine/engine_harness.h"

namespace corvid {
namespace {

using fake::FakeReference;
using fake::Harness;
using fake::kVocab;
using fake::MakeEngine;
using fake::Outcome;
using fake::RandomPrompt;
using fake::Request;
using fake::RunAll;

TEST(EngineTest, SingleRequestMatchesReference) {
  Harness h = MakeEngine({16, 64}, EngineOptions{});
  const std::vector<int32_t> prompt = {1, 10, 20, 30, 40};
  ASSERT_TRUE(h.engine->Add(Request(7, prompt, 30)).ok());
  auto out = RunAll(&h);
  EXPECT_EQ(out[7].tokens, FakeReference(prompt, 30, kVocab, {}));
  EXPECT_EQ(out[7].finish, FinishReason::kLength);
  EXPECT_EQ(h.engine->Capacity().free_kv_blocks, 64);
}

TEST(EngineTest, BudgetAndSeqLimitHoldEveryStepAndOutputsMatch) {
  EngineOptions options;
  options.max_num_seqs = 4;
  options.max_num_batched_tokens = 16;
  Harness h = MakeEngine({4, 256}, options);
  std::mt19937 rng(5);
  std::map<int64_t, std::vector<int32_t>> prompts;
  for (int64_t id = 0; id < 12; ++id) {
    prompts[id] = RandomPrompt(&rng, 1 + static_cast<int>(rng() % 40));
    ASSERT_TRUE(h.engine->Add(Request(id, prompts[id], 5 + id % 7)).ok());
  }
  std::vector<StepStats> stats;
  auto out = RunAll(&h, &stats);
  ASSERT_EQ(stats.size(), h.fake->steps().size());
  for (size_t i = 0; i < stats.size(); ++i) {
    const auto& step = h.fake->steps()[i];
    EXPECT_LE(step.num_tokens, 16) << "step " << i;
    EXPECT_LE(step.seqs.size(), 4u) << "step " << i;
    EXPECT_EQ(stats[i].num_prefill_tokens + stats[i].num_decode_tokens, step.num_tokens);
  }
  for (const auto& [id, prompt] : prompts) {
    EXPECT_EQ(out[id].tokens, FakeReference(prompt, 5 + id % 7, kVocab, {})) << id;
    EXPECT_EQ(out[id].finish, FinishReason::kLength);
  }
}

TEST(EngineTest, LongPromptIsPrefilledInChunks) {
  EngineOptions options;
  options.max_num_seqs = 2;
  options.max_num_batched_tokens = 16;
  Harness h = MakeEngine({8, 32}, options);
  std::mt19937 rng(9);
  const std::vector<int32_t> prompt = RandomPrompt(&rng, 50);
  ASSERT_TRUE(h.engine->Add(Request(1, prompt, 3)).ok());
  auto out = RunAll(&h);
  EXPECT_EQ(out[1].tokens, FakeReference(prompt, 3, kVocab, {}));
  const auto& steps = h.fake->steps();
  ASSERT_EQ(steps.size(), 6u);  // 16 + 16 + 16 + 2 prefill, then two decodes
  const int chunk[] = {16, 16, 16, 2, 1, 1};
  const int context[] = {16, 32, 48, 50, 51, 52};
  for (int i = 0; i < 6; ++i) {
    ASSERT_EQ(steps[i].seqs.size(), 1u);
    EXPECT_EQ(steps[i].seqs[0].num_query_tokens, chunk[i]) << i;
    EXPECT_EQ(steps[i].seqs[0].context_len, context[i]) << i;
    EXPECT_EQ(steps[i].seqs[0].sample, i >= 3) << i;
  }
}

TEST(EngineTest, DecodesComeFirstAndPrefillUsesTheRestOfTheBudget) {
  EngineOptions options;
  options.max_num_seqs = 4;
  options.max_num_batched_tokens = 8;
  Harness h = MakeEngine({8, 32}, options);
  ASSERT_TRUE(h.engine->Add(Request(1, {5, 6, 7}, 10)).ok());
  std::vector<TokenEvent> events;
  ASSERT_TRUE(h.engine->Step(&events).ok());  // prefill of 1 (3 tokens)
  std::mt19937 rng(3);
  const std::vector<int32_t> long_prompt = RandomPrompt(&rng, 20);
  ASSERT_TRUE(h.engine->Add(Request(2, long_prompt, 2)).ok());
  StepStats stats;
  ASSERT_TRUE(h.engine->Step(&events, &stats).ok());
  EXPECT_EQ(stats.num_decode_tokens, 1);
  EXPECT_EQ(stats.num_prefill_tokens, 7);
  const auto& step = h.fake->steps().back();
  ASSERT_EQ(step.seqs.size(), 2u);
  EXPECT_EQ(step.seqs[0].seq_id, 1);
  EXPECT_EQ(step.seqs[1].seq_id, 2);
  EXPECT_FALSE(step.seqs[1].sample);
}

// Finds a prompt whose reference output contains eos (2) within `within` tokens.
std::vector<int32_t> PromptReachingEos(int within) {
  std::mt19937 rng(77);
  for (;;) {
    std::vector<int32_t> p = RandomPrompt(&rng, 6);
    auto ref = FakeReference(p, within, kVocab, {2});
    if (ref.back() == 2 && ref.size() > 1) return p;
  }
}

TEST(EngineTest, FinishReasons) {
  Harness h = MakeEngine({4, 64}, EngineOptions{});
  const std::vector<int32_t> eos_prompt = PromptReachingEos(60);
  const auto eos_ref = FakeReference(eos_prompt, 60, kVocab, {2});
  GenerationRequest stop_on_eos = Request(1, eos_prompt, 60);
  stop_on_eos.ignore_eos = false;
  ASSERT_TRUE(h.engine->Add(stop_on_eos).ok());
  ASSERT_TRUE(h.engine->Add(Request(2, eos_prompt, 60)).ok());  // ignore_eos: runs to length
  const std::vector<int32_t> p3 = {9, 8, 7};
  const auto ref3 = FakeReference(p3, 20, kVocab, {});
  GenerationRequest with_stop = Request(3, p3, 20);
  with_stop.stop_token_ids = {ref3[4]};
  ASSERT_TRUE(h.engine->Add(with_stop).ok());
  auto out = RunAll(&h);

  EXPECT_EQ(out[1].finish, FinishReason::kStop);
  EXPECT_EQ(out[1].tokens, eos_ref);  // ends with the eos token itself
  EXPECT_EQ(out[2].finish, FinishReason::kLength);
  EXPECT_EQ(out[2].tokens, FakeReference(eos_prompt, 60, kVocab, {}));
  EXPECT_EQ(out[3].finish, FinishReason::kStop);
  EXPECT_EQ(out[3].tokens, FakeReference(p3, 20, kVocab, {ref3[4]}));
  EXPECT_LE(out[3].tokens.size(), 5u);
}

TEST(EngineTest, PromptPlusMaxTokensMayFillTheContext) {
  EngineOptions options;
  options.max_model_len = 12;
  Harness h = MakeEngine({4, 16}, options);
  ASSERT_TRUE(h.engine->Add(Request(1, {4, 5, 6, 7}, 8)).ok());  // exactly 12 tokens
  auto out = RunAll(&h);
  EXPECT_EQ(out[1].tokens.size(), 8u);
  EXPECT_EQ(out[1].finish, FinishReason::kLength);
}

TEST(EngineTest, CancelFreesBlocksAtOnceAndTheNextStepReportsIt) {
  Harness h = MakeEngine({4, 32}, EngineOptions{});
  const std::vector<int32_t> keep = {3, 4, 5, 6, 7, 8};
  ASSERT_TRUE(h.engine->Add(Request(1, keep, 12)).ok());
  ASSERT_TRUE(h.engine->Add(Request(2, {9, 10, 11, 12, 13, 14, 15, 16, 17}, 12)).ok());
  std::vector<TokenEvent> events;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(h.engine->Step(&events).ok());
  const int free_before = h.engine->Capacity().free_kv_blocks;
  h.engine->Cancel(2);
  h.engine->Cancel(12345);  // unknown: ignored
  // Request 2 held ceil(11 / 4) = 3 blocks (9 prompt tokens + 2 decoded).
  EXPECT_EQ(h.engine->Capacity().free_kv_blocks, free_before + 3);
  EXPECT_EQ(h.engine->Capacity().running, 1);
  EXPECT_EQ(h.impl()->CheckInvariants(), absl::OkStatus());
  // The id stays taken until its cancel event is out.
  EXPECT_EQ(h.engine->Add(Request(2, {5}, 1)).code(), absl::StatusCode::kInvalidArgument);
  events.clear();
  ASSERT_TRUE(h.engine->Step(&events).ok());
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events[0].id, 2);
  EXPECT_EQ(events[0].finish, FinishReason::kCancelled);
  EXPECT_LT(events[0].token.token, 0);
  for (size_t i = 1; i < events.size(); ++i) EXPECT_EQ(events[i].id, 1);
  auto out = RunAll(&h);
  EXPECT_EQ(out.count(2), 0u);
  // 3 tokens came before the cancel and 1 in the cancel step.
  const auto ref = FakeReference(keep, 12, kVocab, {});
  EXPECT_EQ(out[1].tokens, std::vector<int32_t>(ref.begin() + 4, ref.end()));
  EXPECT_EQ(h.engine->Capacity().free_kv_blocks, 32);
}

TEST(EngineTest, CancelOfAWaitingRequestNeverRunsIt) {
  EngineOptions options;
  options.max_num_seqs = 1;
  options.max_num_batched_tokens = 8;
  Harness h = MakeEngine({4, 32}, options);
  ASSERT_TRUE(h.engine->Add(Request(1, {3, 4, 5}, 4)).ok());
  ASSERT_TRUE(h.engine->Add(Request(2, {6, 7, 8}, 4)).ok());
  EXPECT_EQ(h.engine->Capacity().waiting, 2);
  h.engine->Cancel(2);
  EXPECT_EQ(h.engine->Capacity().waiting, 1);
  auto out = RunAll(&h);
  EXPECT_EQ(out[2].finish, FinishReason::kCancelled);
  EXPECT_TRUE(out[2].tokens.empty());
  for (const auto& step : h.fake->steps()) {
    for (const auto& seq : step.seqs) EXPECT_NE(seq.seq_id, 2);
  }
  EXPECT_EQ(out[1].tokens, FakeReference({3, 4, 5}, 4, kVocab, {}));
}

// Eight sequences that together need far more KV than the pool holds: preemption by recompute
// must kick in, and every request still yields exactly its reference tokens, each emitted once.
TEST(EngineTest, PreemptionUnderATinyPoolCompletesWithIdenticalTokens) {
  EngineOptions options;
  options.max_num_seqs = 8;
  options.max_num_batched_tokens = 32;
  Harness h = MakeEngine({4, 12}, options);  // 48 slots
  std::mt19937 rng(21);
  std::map<int64_t, std::vector<int32_t>> prompts;
  for (int64_t id = 0; id < 8; ++id) {
    prompts[id] = RandomPrompt(&rng, 3 + static_cast<int>(rng() % 10));
    ASSERT_TRUE(h.engine->Add(Request(id, prompts[id], 24)).ok());
  }
  std::vector<StepStats> stats;
  auto out = RunAll(&h, &stats);
  int preempted = 0;
  for (const StepStats& s : stats) preempted += s.num_preempted;
  EXPECT_GT(preempted, 0);
  for (const auto& [id, prompt] : prompts) {
    EXPECT_EQ(out[id].tokens, FakeReference(prompt, 24, kVocab, {})) << id;
    EXPECT_EQ(out[id].finish, FinishReason::kLength) << id;
  }
  EXPECT_EQ(h.engine->Capacity().free_kv_blocks, 12);
  // A recomputed sequence re-prefills prompt + the tokens it had already generated, and every
  // sample happens with exactly prompt + emitted tokens in the cache.
  bool saw_recompute = false;
  std::map<int64_t, int> emitted;
  for (const auto& step : h.fake->steps()) {
    for (const auto& seq : step.seqs) {
      const int before = seq.context_len - seq.num_query_tokens;
      if (before == 0 && emitted[seq.seq_id] > 0) saw_recompute = true;
      if (!seq.sample) continue;
      EXPECT_EQ(seq.context_len,
                static_cast<int>(prompts[seq.seq_id].size()) + emitted[seq.seq_id]);
      ++emitted[seq.seq_id];
    }
  }
  EXPECT_TRUE(saw_recompute);
}

TEST(EngineTest, FailedExecuteRequeuesTheBatchForRecompute) {
  Harness h = MakeEngine({4, 32}, EngineOptions{});
  const std::vector<int32_t> a = {3, 4, 5, 6, 7}, b = {8, 9};
  ASSERT_TRUE(h.engine->Add(Request(1, a, 6)).ok());
  ASSERT_TRUE(h.engine->Add(Request(2, b, 6)).ok());
  std::vector<TokenEvent> events;
  ASSERT_TRUE(h.engine->Step(&events).ok());
  ASSERT_TRUE(h.engine->Step(&events).ok());
  h.fake->FailNext(1);
  EXPECT_EQ(h.engine->Step(&events).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(h.engine->Capacity().running, 0);
  EXPECT_EQ(h.engine->Capacity().waiting, 2);
  EXPECT_EQ(h.engine->Capacity().free_kv_blocks, 32);
  EXPECT_EQ(h.impl()->CheckInvariants(), absl::OkStatus());
  std::map<int64_t, std::vector<int32_t>> tokens;
  for (const TokenEvent& e : events) tokens[e.id].push_back(e.token.token);
  EXPECT_EQ(tokens[1].size(), 2u);
  EXPECT_EQ(tokens[2].size(), 2u);
  auto out = RunAll(&h);
  for (auto& [id, t] : tokens) t.insert(t.end(), out[id].tokens.begin(), out[id].tokens.end());
  EXPECT_EQ(tokens[1], FakeReference(a, 6, kVocab, {}));
  EXPECT_EQ(tokens[2], FakeReference(b, 6, kVocab, {}));
}

}  // namespace
}  // namespace corvid
