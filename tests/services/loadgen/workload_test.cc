#include "services/loadgen/workload.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace corvid::loadgen {
namespace {

TEST(LengthDistributionTest, ParsesEachForm) {
  auto plain = ParseLengthDistribution("prompt-len", "128");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->kind, LengthDistribution::Kind::kFixed);
  EXPECT_EQ(plain->a, 128);
  auto fixed = ParseLengthDistribution("prompt-len", "fixed:7");
  ASSERT_TRUE(fixed.ok());
  EXPECT_EQ(fixed->a, 7);
  auto uniform = ParseLengthDistribution("prompt-len", "uniform:4:12");
  ASSERT_TRUE(uniform.ok());
  EXPECT_EQ(uniform->kind, LengthDistribution::Kind::kUniform);
  EXPECT_EQ(uniform->Mean(), 8);
  auto normal = ParseLengthDistribution("prompt-len", "normal:100:10");
  ASSERT_TRUE(normal.ok());
  EXPECT_EQ(normal->kind, LengthDistribution::Kind::kNormal);
}

TEST(LengthDistributionTest, RejectsBadSpecsNamingTheFlag) {
  for (const char* bad : {"0", "-3", "x", "fixed", "uniform:5", "uniform:9:3", "uniform:0:3",
                          "normal:0:1", "normal:10:-1", "zipf:3"}) {
    auto r = ParseLengthDistribution("output-len", bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("--output-len"), std::string::npos);
  }
}

TEST(LengthDistributionTest, SamplesStayInRangeWithTheRightMean) {
  std::mt19937_64 rng(5);
  LengthDistribution u{LengthDistribution::Kind::kUniform, 10, 20};
  double sum = 0;
  for (int i = 0; i < 20000; ++i) {
    const int v = u.Sample(rng);
    ASSERT_GE(v, 10);
    ASSERT_LE(v, 20);
    sum += v;
  }
  EXPECT_NEAR(sum / 20000, 15, 0.1);
  LengthDistribution n{LengthDistribution::Kind::kNormal, 2, 5};  // often below 1: clamped
  for (int i = 0; i < 1000; ++i) ASSERT_GE(n.Sample(rng), 1);
}

TEST(SyntheticWorkloadTest, IdPromptsHaveTheLengthsAndStayInTheVocabulary) {
  SyntheticOptions o;
  o.prompt_len = {LengthDistribution::Kind::kFixed, 9, 0};
  o.output_len = {LengthDistribution::Kind::kFixed, 5, 0};
  o.vocab_size = 50;
  o.count = 200;
  auto w = SyntheticWorkload(o);
  ASSERT_TRUE(w.ok());
  ASSERT_EQ(w->size(), 200u);
  for (const RequestSpec& s : *w) {
    EXPECT_TRUE(s.text.empty());
    ASSERT_EQ(s.token_ids.size(), 9u);
    EXPECT_EQ(s.max_tokens, 5);
    for (int32_t id : s.token_ids) {
      EXPECT_GE(id, o.first_token_id);
      EXPECT_LT(id, 50);
    }
  }
}

TEST(SyntheticWorkloadTest, PromptsAreShortenedToFitTheContext) {
  SyntheticOptions o;
  o.prompt_len = {LengthDistribution::Kind::kFixed, 100, 0};
  o.output_len = {LengthDistribution::Kind::kFixed, 40, 0};
  o.vocab_size = 512;
  o.context_length = 64;
  o.count = 3;
  auto w = SyntheticWorkload(o);
  ASSERT_TRUE(w.ok());
  for (const RequestSpec& s : *w) {
    EXPECT_EQ(s.max_tokens, 40);
    EXPECT_EQ(s.token_ids.size(), 24u);
  }
}

TEST(SyntheticWorkloadTest, TextPromptsHaveTheWordCount) {
  SyntheticOptions o;
  o.prompt_len = {LengthDistribution::Kind::kFixed, 6, 0};
  o.text = true;
  o.count = 4;
  auto w = SyntheticWorkload(o);
  ASSERT_TRUE(w.ok());
  for (const RequestSpec& s : *w) {
    EXPECT_TRUE(s.token_ids.empty());
    EXPECT_EQ(std::count(s.text.begin(), s.text.end(), ' '), 5) << s.text;
  }
}

TEST(SyntheticWorkloadTest, IdPromptsNeedAVocabulary) {
  SyntheticOptions o;
  o.vocab_size = 0;
  EXPECT_EQ(SyntheticWorkload(o).status().code(), absl::StatusCode::kInvalidArgument);
}

std::string WriteTemp(const std::string& name, const std::string& text) {
  const std::string path = testing::TempDir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(JsonlWorkloadTest, ReadsTextAndIdPromptsWithAliases) {
  const std::string path = WriteTemp("good.jsonl",
                                     "{\"prompt\": \"Once upon\", \"max_tokens\": 12}\n"
                                     "\n"
                                     "{\"prompt_token_ids\": [1, 2, 3]}\n"
                                     "{\"token_ids\": [9], \"output_len\": 3}\n");
  auto w = LoadJsonlWorkload(path, 7);
  ASSERT_TRUE(w.ok()) << w.status();
  ASSERT_EQ(w->size(), 3u);
  EXPECT_EQ((*w)[0].text, "Once upon");
  EXPECT_EQ((*w)[0].max_tokens, 12);
  EXPECT_EQ((*w)[1].token_ids, (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ((*w)[1].max_tokens, 7);
  EXPECT_EQ((*w)[2].token_ids, (std::vector<int32_t>{9}));
  EXPECT_EQ((*w)[2].max_tokens, 3);
}

TEST(JsonlWorkloadTest, PlainLinesArePromptsAsTheyStand) {
  const std::string path = WriteTemp("plain.jsonl",
                                     "Once upon a time\n"
                                     "{\"prompt_token_ids\": [5], \"max_tokens\": 2}\n"
                                     "  indented text  \n");
  auto w = LoadJsonlWorkload(path, 9);
  ASSERT_TRUE(w.ok()) << w.status();
  ASSERT_EQ(w->size(), 3u);
  EXPECT_EQ((*w)[0].text, "Once upon a time");
  EXPECT_EQ((*w)[0].max_tokens, 9);
  EXPECT_EQ((*w)[1].max_tokens, 2);
  EXPECT_EQ((*w)[2].text, "  indented text  ");
}

TEST(JsonlWorkloadTest, ErrorsNameTheLine) {
  const struct {
    const char* body;
    const char* needle;
  } cases[] = {
      {"{\"prompt\": \"a\"}\n{not json\n", ":2:"},
      {"{\"prompt\": \"a\", \"prompt_token_ids\": [1]}\n", "exactly one"},
      {"{\"prompt\": \"\"}\n", "non-empty"},
      {"{\"prompt_token_ids\": [1, -2]}\n", "non-negative"},
      {"{\"prompt\": \"a\", \"max_tokens\": 0}\n", "max_tokens"},
      {"[1, 2]\n", "object"},
      {"\n\n", "no requests"},
  };
  for (const auto& c : cases) {
    auto w = LoadJsonlWorkload(WriteTemp("bad.jsonl", c.body), 4);
    ASSERT_EQ(w.status().code(), absl::StatusCode::kInvalidArgument) << c.body;
    EXPECT_NE(w.status().message().find(c.needle), std::string::npos) << w.status();
  }
  EXPECT_EQ(LoadJsonlWorkload("/nonexistent/w.jsonl", 4).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace corvid::loadgen
