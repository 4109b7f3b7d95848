#include "services/scheduler/request_validation.h"

#include <functional>

#include <gtest/gtest.h>

namespace corvid::scheduler {
namespace {

const ModelLimits kLimits{"tiny", 512, 512};

v1::GenerateRequest Good() {
  v1::GenerateRequest r;
  r.set_text("Once upon a time");
  return r;
}

TEST(ValidateRequestTest, DefaultsAreResolved) {
  absl::StatusOr<ResolvedRequest> r = ValidateRequest(Good(), kLimits);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->max_tokens, kDefaultMaxTokens);
  EXPECT_FLOAT_EQ(r->sampling.temperature(), 1.0f);
  EXPECT_FLOAT_EQ(r->sampling.top_p(), 1.0f);
  EXPECT_FLOAT_EQ(r->sampling.repetition_penalty(), 1.0f);
  EXPECT_EQ(r->priority, QueueClass::kNormal);
  EXPECT_TRUE(r->add_special_tokens);
  EXPECT_TRUE(r->text_prompt);
  EXPECT_FALSE(r->has_seed);
}

TEST(ValidateRequestTest, ExplicitValuesAreKept) {
  v1::GenerateRequest req = Good();
  req.mutable_sampling()->set_temperature(0);
  req.mutable_sampling()->set_top_k(5);
  req.set_seed(42);
  req.set_max_tokens(100);
  req.add_stop("\n");
  req.add_stop_token_ids(2);
  req.set_logprobs(true);
  req.set_top_logprobs(3);
  req.set_priority(v1::PRIORITY_HIGH);
  req.set_model("tiny");
  absl::StatusOr<ResolvedRequest> r = ValidateRequest(req, kLimits);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->sampling.temperature(), 0.0f);
  EXPECT_EQ(r->sampling.top_k(), 5);
  EXPECT_TRUE(r->has_seed);
  EXPECT_EQ(r->sampling.seed(), 42u);
  EXPECT_EQ(r->max_tokens, 100);
  EXPECT_EQ(r->stops, std::vector<std::string>{"\n"});
  EXPECT_EQ(r->stop_token_ids, std::vector<int32_t>{2});
  EXPECT_EQ(r->sampling.top_logprobs(), 3u);
  EXPECT_EQ(r->priority, QueueClass::kHigh);
}

struct BadCase {
  const char* name;
  std::function<void(v1::GenerateRequest*)> mutate;
  const char* field;  // the message must start with it
  absl::StatusCode code = absl::StatusCode::kInvalidArgument;
};

TEST(ValidateRequestTest, EachMalformedFieldIsNamed) {
  const std::vector<BadCase> cases = {
      {"no prompt", [](auto* r) { r->clear_prompt(); }, "prompt"},
      {"empty text", [](auto* r) { r->set_text(""); }, "text"},
      {"bad utf8", [](auto* r) { r->set_text("a\xC3("); }, "text"},
      {"overlong utf8", [](auto* r) { r->set_text("\xC0\xAF"); }, "text"},
      {"surrogate", [](auto* r) { r->set_text("\xED\xA0\x80"); }, "text"},
      {"truncated utf8", [](auto* r) { r->set_text("ok\xE2\x82"); }, "text"},
      {"huge text", [](auto* r) { r->set_text(std::string(kMaxPromptTextBytes + 1, 'a')); },
       "text"},
      {"empty ids", [](auto* r) { r->mutable_token_ids(); }, "token_ids"},
      {"special on ids",
       [](auto* r) {
         r->mutable_token_ids()->add_ids(1);
         r->set_add_special_tokens(true);
       },
       "add_special_tokens"},
      {"temperature<0", [](auto* r) { r->mutable_sampling()->set_temperature(-1); },
       "sampling.temperature"},
      {"temperature nan", [](auto* r) { r->mutable_sampling()->set_temperature(NAN); },
       "sampling.temperature"},
      {"top_k<0", [](auto* r) { r->mutable_sampling()->set_top_k(-2); }, "sampling.top_k"},
      {"top_p=0", [](auto* r) { r->mutable_sampling()->set_top_p(0); }, "sampling.top_p"},
      {"top_p>1", [](auto* r) { r->mutable_sampling()->set_top_p(1.5); }, "sampling.top_p"},
      {"min_p>1", [](auto* r) { r->mutable_sampling()->set_min_p(2); }, "sampling.min_p"},
      {"rep=0", [](auto* r) { r->mutable_sampling()->set_repetition_penalty(0); },
       "sampling.repetition_penalty"},
      {"presence", [](auto* r) { r->mutable_sampling()->set_presence_penalty(3); },
       "sampling.presence_penalty"},
      {"frequency", [](auto* r) { r->mutable_sampling()->set_frequency_penalty(-3); },
       "sampling.frequency_penalty"},
      {"max_tokens=0", [](auto* r) { r->set_max_tokens(0); }, "max_tokens"},
      {"max_tokens>=ctx", [](auto* r) { r->set_max_tokens(512); }, "max_tokens"},
      {"empty stop", [](auto* r) { r->add_stop(""); }, "stop[0]"},
      {"long stop", [](auto* r) { r->add_stop(std::string(300, 'x')); }, "stop[0]"},
      {"bad utf8 stop",
       [](auto* r) {
         r->add_stop("ok");
         r->add_stop("\xFF");
       },
       "stop[1]"},
      {"too many stops",
       [](auto* r) {
         for (int i = 0; i < 17; ++i) r->add_stop("s");
       },
       "stop"},
      {"stop id", [](auto* r) { r->add_stop_token_ids(512); }, "stop_token_ids[0]"},
      {"negative stop id", [](auto* r) { r->add_stop_token_ids(-1); }, "stop_token_ids[0]"},
      {"top_logprobs>20",
       [](auto* r) {
         r->set_logprobs(true);
         r->set_top_logprobs(21);
       },
       "top_logprobs"},
      {"top_logprobs w/o logprobs", [](auto* r) { r->set_top_logprobs(2); }, "top_logprobs"},
      {"priority", [](auto* r) { r->set_priority(static_cast<v1::Priority>(9)); }, "priority"},
      {"request_id", [](auto* r) { r->set_request_id(std::string(129, 'r')); }, "request_id"},
      {"model", [](auto* r) { r->set_model("llama-70b"); }, "model",
       absl::StatusCode::kNotFound},
  };
  for (const BadCase& c : cases) {
    v1::GenerateRequest req = Good();
    c.mutate(&req);
    absl::StatusOr<ResolvedRequest> r = ValidateRequest(req, kLimits);
    ASSERT_FALSE(r.ok()) << c.name;
    EXPECT_EQ(r.status().code(), c.code) << c.name << ": " << r.status();
    EXPECT_EQ(r.status().message().rfind(std::string(c.field) + ":", 0), 0u)
        << c.name << ": " << r.status();
  }
}

TEST(CheckPromptTest, IdsInRangeAndContextRespected) {
  v1::GenerateRequest req;
  req.mutable_token_ids()->add_ids(1);
  req.set_max_tokens(10);
  absl::StatusOr<ResolvedRequest> r = ValidateRequest(req, kLimits);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(CheckPrompt({1, 5, 511}, *r, kLimits).ok());
  absl::Status s = CheckPrompt({1, 512}, *r, kLimits);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message().rfind("token_ids[1]:", 0), 0u) << s;
  s = CheckPrompt(std::vector<int32_t>(503, 1), *r, kLimits);
  EXPECT_EQ(s.message().rfind("max_tokens:", 0), 0u) << s;
  EXPECT_TRUE(CheckPrompt(std::vector<int32_t>(502, 1), *r, kLimits).ok());
  EXPECT_EQ(CheckPrompt({}, *r, kLimits).code(), absl::StatusCode::kInvalidArgument);
}

TEST(IsValidUtf8Test, AcceptsAllWidths) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain"));
  EXPECT_TRUE(IsValidUtf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\x80"));
}

}  // namespace
}  // namespace corvid::scheduler
