// Engine::Create option checks, Add() validation (each bad field named) and seed drawing.
#include <string>
#include <vector>

#include "engine/engine.h"
#include "gtest/gtest.h"
#include "tests/engine/engine_harness.h"

namespace corvid {
namespace {

using fake::FakeBackend;
using fake::FakeConfig;
using fake::Harness;
using fake::MakeEngine;
using fake::Request;
using fake::RunAll;

struct BadCase {
  const char* name;
  void (*mutate)(GenerationRequest*);
  absl::StatusCode code;
  const char* field;  // must appear in the message
};

TEST(EngineValidationTest, AddRejectsEachBadFieldByName) {
  EngineOptions options;
  options.max_model_len = 100;
  const BadCase cases[] = {
      {"empty prompt", [](GenerationRequest* r) { r->prompt.clear(); },
       absl::StatusCode::kInvalidArgument, "prompt"},
      {"prompt id too big", [](GenerationRequest* r) { r->prompt[1] = 64; },
       absl::StatusCode::kInvalidArgument, "prompt[1]"},
      {"negative prompt id", [](GenerationRequest* r) { r->prompt[0] = -1; },
       absl::StatusCode::kInvalidArgument, "prompt[0]"},
      {"max_tokens 0", [](GenerationRequest* r) { r->max_tokens = 0; },
       absl::StatusCode::kInvalidArgument, "max_tokens"},
      {"over context", [](GenerationRequest* r) { r->max_tokens = 98; },
       absl::StatusCode::kInvalidArgument, "max_tokens"},
      {"huge max_tokens", [](GenerationRequest* r) { r->max_tokens = 2147483647; },
       absl::StatusCode::kInvalidArgument, "max_tokens"},
      {"stop id", [](GenerationRequest* r) { r->stop_token_ids = {3, 99}; },
       absl::StatusCode::kInvalidArgument, "stop_token_ids[1]"},
      {"temperature", [](GenerationRequest* r) { r->sampling.temperature = -0.5f; },
       absl::StatusCode::kInvalidArgument, "sampling.temperature"},
      {"temperature nan", [](GenerationRequest* r) { r->sampling.temperature = NAN; },
       absl::StatusCode::kInvalidArgument, "sampling.temperature"},
      {"top_k", [](GenerationRequest* r) { r->sampling.top_k = -1; },
       absl::StatusCode::kInvalidArgument, "sampling.top_k"},
      {"top_p 0", [](GenerationRequest* r) { r->sampling.top_p = 0.0f; },
       absl::StatusCode::kInvalidArgument, "sampling.top_p"},
      {"top_p 1.5", [](GenerationRequest* r) { r->sampling.top_p = 1.5f; },
       absl::StatusCode::kInvalidArgument, "sampling.top_p"},
      {"min_p", [](GenerationRequest* r) { r->sampling.min_p = 1.1f; },
       absl::StatusCode::kInvalidArgument, "sampling.min_p"},
      {"repetition_penalty", [](GenerationRequest* r) { r->sampling.repetition_penalty = 0; },
       absl::StatusCode::kInvalidArgument, "sampling.repetition_penalty"},
      {"presence_penalty", [](GenerationRequest* r) { r->sampling.presence_penalty = 2.5f; },
       absl::StatusCode::kInvalidArgument, "sampling.presence_penalty"},
      {"frequency_penalty", [](GenerationRequest* r) { r->sampling.frequency_penalty = -3; },
       absl::StatusCode::kInvalidArgument, "sampling.frequency_penalty"},
      {"top_logprobs", [](GenerationRequest* r) { r->sampling.top_logprobs = 21; },
       absl::StatusCode::kInvalidArgument, "sampling.top_logprobs"},
  };
  for (const BadCase& c : cases) {
    Harness h = MakeEngine({4, 64}, options);
    GenerationRequest r = Request(1, {1, 5, 6}, 10);
    c.mutate(&r);
    const absl::Status status = h.engine->Add(r);
    EXPECT_EQ(status.code(), c.code) << c.name << ": " << status;
    EXPECT_NE(std::string(status.message()).find(c.field), std::string::npos)
        << c.name << ": " << status;
    EXPECT_FALSE(h.engine->HasWork()) << c.name;
  }
}

TEST(EngineValidationTest, AddAcceptsBoundaryValuesAndRejectsDuplicates) {
  EngineOptions options;
  options.max_model_len = 100;
  Harness h = MakeEngine({4, 64}, options);
  GenerationRequest r = Request(1, {1, 5, 6}, 97);  // prompt + max_tokens == max_model_len
  r.sampling.top_p = 1.0f;
  r.sampling.min_p = 1.0f;
  r.sampling.presence_penalty = -2.0f;
  r.sampling.top_logprobs = 20;
  r.stop_token_ids = {63};
  EXPECT_TRUE(h.engine->Add(r).ok());
  const absl::Status dup = h.engine->Add(Request(1, {7}, 1));
  EXPECT_EQ(dup.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(dup.message()).find("id"), std::string::npos);
  EXPECT_EQ(h.engine->Capacity().waiting, 1);
}

TEST(EngineValidationTest, RequestThatCannotFitTheWholeCacheIsResourceExhausted) {
  Harness h = MakeEngine({4, 5}, EngineOptions{});  // 20 slots
  // prompt + max_tokens - 1 = 20 slots fit exactly; one more does not.
  EXPECT_TRUE(h.engine->Add(Request(1, {3, 4, 5, 6, 7}, 16)).ok());
  EXPECT_EQ(h.engine->Add(Request(2, {3, 4, 5, 6, 7}, 17)).code(),
            absl::StatusCode::kResourceExhausted);
  auto out = RunAll(&h);
  EXPECT_EQ(out[1].tokens.size(), 16u);
}

TEST(EngineValidationTest, CreateRejectsBadOptions) {
  auto make = [](EngineOptions o, KvCacheGeometry g) {
    return Engine::Create(std::make_unique<FakeBackend>(FakeConfig(64, 256), g), o).status();
  };
  EngineOptions ok;
  EXPECT_TRUE(make(ok, {16, 8}).ok());
  EngineOptions o = ok;
  o.max_num_seqs = 0;
  EXPECT_EQ(make(o, {16, 8}).code(), absl::StatusCode::kInvalidArgument);
  o = ok;
  o.max_num_batched_tokens = o.max_num_seqs - 1;
  EXPECT_EQ(make(o, {16, 8}).code(), absl::StatusCode::kInvalidArgument);
  o = ok;
  o.max_model_len = 257;
  EXPECT_EQ(make(o, {16, 8}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(make(ok, {16, 0}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Engine::Create(nullptr, ok).status().code(), absl::StatusCode::kInvalidArgument);
}

// Seeds come from EngineOptions::seed in Add order; an explicit seed is kept.
std::vector<uint64_t> SeedsSeen(uint64_t engine_seed) {
  EngineOptions options;
  options.seed = engine_seed;
  Harness h = MakeEngine({4, 64}, options);
  for (int64_t id = 0; id < 3; ++id) {
    GenerationRequest r = Request(id, {4, 5}, 1);
    if (id == 1) {
      r.has_seed = true;
      r.sampling.seed = 42;
    }
    EXPECT_TRUE(h.engine->Add(r).ok());
  }
  RunAll(&h);
  std::vector<uint64_t> seeds(3);
  for (const auto& step : h.fake->steps()) {
    for (const auto& s : step.seqs) seeds[s.seq_id] = s.seed;
  }
  return seeds;
}

TEST(EngineValidationTest, SeedsAreDrawnFromTheEngineSeed) {
  const std::vector<uint64_t> a = SeedsSeen(7), b = SeedsSeen(7), c = SeedsSeen(8);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a[1], 42u);
  EXPECT_NE(a[0], a[2]);
  EXPECT_NE(a[0], c[0]);
  EXPECT_EQ(c[1], 42u);
}

}  // namespace
}  // namespace corvid
