// Every tokenizer under shared/models against its reference library (Hugging Face tokenizers
// for tokenizer.json, sentencepiece for tokenizer.model), on the project's corpus and on seeded
// random id sequences; the reference ids are computed at test time by tokenizer_reference.py.
#include <random>

#include "engine/tokenizer/streaming_detokenizer.h"
#include "engine/tokenizer/utf8.h"
#include "gtest/gtest.h"
#include "tests/engine/tokenizer_test_util.h"

namespace corvid {
namespace {

using ::corvid::testing::CachedTokenizer;
using ::corvid::testing::Reference;

class TokenizerReferenceTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (!::corvid::testing::HaveModels()) GTEST_SKIP() << "no test models (CORVID_TEST_MODELS_DIR)";
    if (!::corvid::testing::HavePython()) GTEST_SKIP() << "no .venv python for the references";
    tokenizer_ = CachedTokenizer(GetParam());
    ASSERT_NE(tokenizer_, nullptr);
    ref_ = &Reference(GetParam());
    ASSERT_TRUE(ref_->is_object()) << "tokenizer_reference.py failed for " << GetParam();
  }
  static std::vector<int32_t> Ids(const nlohmann::json& j) { return j.get<std::vector<int32_t>>(); }

  const Tokenizer* tokenizer_ = nullptr;
  const nlohmann::json* ref_ = nullptr;
};

TEST_P(TokenizerReferenceTest, VocabSizeMatches) {
  EXPECT_EQ(tokenizer_->vocab_size(), (*ref_)["vocab_size"].get<int>());
}

TEST_P(TokenizerReferenceTest, EncodeMatchesReferenceOnCorpus) {
  int checked = 0;
  for (const auto& c : (*ref_)["cases"]) {
    const std::string text = c["text"];
    auto ids = tokenizer_->Encode(text, /*add_special_tokens=*/false);
    ASSERT_TRUE(ids.ok()) << ids.status();
    EXPECT_EQ(*ids, Ids(c["ids"])) << c["name"] << ": " << text;
    auto with_special = tokenizer_->Encode(text, /*add_special_tokens=*/true);
    ASSERT_TRUE(with_special.ok()) << with_special.status();
    EXPECT_EQ(*with_special, Ids(c["ids_special"])) << c["name"] << " (with special tokens)";
    ++checked;
  }
  EXPECT_GT(checked, 50);
}

// Sampled assigned code points in contexts where general categories, White_Space and NFC
// decide the split (tokenizer_reference.py's unicode_sweep).
TEST_P(TokenizerReferenceTest, EncodeMatchesReferenceOnUnicodeSweep) {
  int mismatches = 0;
  for (const auto& c : (*ref_)["sweep"]) {
    const std::string text = c["text"];
    auto ids = tokenizer_->Encode(text, /*add_special_tokens=*/false);
    ASSERT_TRUE(ids.ok()) << ids.status();
    if (*ids != Ids(c["ids"]) && ++mismatches <= 10) {
      ADD_FAILURE() << "'" << text << "': got " << ::testing::PrintToString(*ids)
                    << ", reference " << c["ids"].dump();
    }
  }
  EXPECT_EQ(mismatches, 0);
  EXPECT_GT((*ref_)["sweep"].size(), 10000u);
}

TEST_P(TokenizerReferenceTest, DecodeMatchesReferenceAndRoundTrips) {
  int round_trips = 0;
  for (const auto& c : (*ref_)["cases"]) {
    const std::string text = c["text"];
    const std::string expected = c["decoded"];
    auto decoded = tokenizer_->Decode(Ids(c["ids"]), /*skip_special_tokens=*/false);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(*decoded, expected) << c["name"];
    // decode(encode(x)) == x wherever the reference library round-trips.
    if (expected == text) {
      auto ids = tokenizer_->Encode(text, false);
      ASSERT_TRUE(ids.ok());
      EXPECT_EQ(*tokenizer_->Decode(*ids, false), text) << c["name"];
      ++round_trips;
    }
  }
  EXPECT_GT(round_trips, 0);
}

TEST_P(TokenizerReferenceTest, DecodeMatchesReferenceOnRandomIds) {
  for (const auto& r : (*ref_)["random"]) {
    const std::vector<int32_t> ids = Ids(r["ids"]);
    auto text = tokenizer_->Decode(ids, /*skip_special_tokens=*/false);
    ASSERT_TRUE(text.ok()) << text.status();
    EXPECT_EQ(*text, r["decoded"].get<std::string>()) << r["ids"].dump();
    auto skipped = tokenizer_->Decode(ids, /*skip_special_tokens=*/true);
    ASSERT_TRUE(skipped.ok());
    EXPECT_EQ(*skipped, r["decoded_skip"].get<std::string>()) << "skip: " << r["ids"].dump();
  }
}

// Property: however ids are fed, every delta is complete UTF-8 and the deltas concatenate to
// the full decode.
TEST_P(TokenizerReferenceTest, StreamingDeltasConcatenateToDecode) {
  std::mt19937 rng(20240611);
  std::vector<std::vector<int32_t>> sequences;
  for (const auto& r : (*ref_)["random"]) sequences.push_back(Ids(r["ids"]));
  for (const auto& c : (*ref_)["cases"]) sequences.push_back(Ids(c["ids_special"]));
  std::uniform_int_distribution<int32_t> any_id(0, tokenizer_->vocab_size() - 1);
  for (int k = 0; k < 200; ++k) {  // plus uniformly random ids of any kind
    std::vector<int32_t> ids(1 + rng() % 64);
    for (auto& id : ids) id = any_id(rng);
    sequences.push_back(ids);
  }
  for (bool skip : {false, true}) {
    for (const auto& ids : sequences) {
      auto detok = StreamingDetokenizer::Create(*tokenizer_, skip);
      ASSERT_TRUE(detok.ok());
      std::string streamed;
      for (size_t i = 0; i < ids.size();) {
        const size_t n = std::min<size_t>(ids.size() - i, 1 + rng() % 3);
        auto delta = detok->Add(absl::MakeConstSpan(ids).subspan(i, n));
        ASSERT_TRUE(delta.ok());
        ASSERT_TRUE(utf8::IsValid(*delta));
        streamed += *delta;
        i += n;
      }
      streamed += detok->Finish();
      EXPECT_EQ(streamed, *tokenizer_->Decode(ids, skip)) << "skip=" << skip;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllTokenizers, TokenizerReferenceTest,
                         ::testing::Values("stories260K", "llama2", "llama3", "qwen3",
                                           "llama2-json-legacy", "llama2-json-metaspace",
                                           "qwen3-flags", "llama3-gpt2", "deepseek-llm-json",
                                           "deepseek-coder-json", "deepseek-llm",
                                           "deepseek-coder"),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& ch : name) {
                             if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace corvid
