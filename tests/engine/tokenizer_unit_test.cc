// Tokenizer behaviour that the reference comparisons do not pin down: UTF-8 edge cases, errors,
// unsupported tokenizer.json features, and what the streaming detokenizer holds back.
#include <atomic>
#include <filesystem>
#include <thread>
#include <fstream>

#include "engine/tokenizer/sentencepiece_bpe.h"
#include "engine/tokenizer/sentencepiece_model.h"
#include "engine/tokenizer/streaming_detokenizer.h"
#include "engine/tokenizer/unicode.h"
#include "engine/tokenizer/utf8.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine/tokenizer_test_util.h"

namespace corvid {
namespace {

using ::corvid::testing::CachedTokenizer;
using ::testing::HasSubstr;

utf8::Seq Classify(const std::string& s) {
  return utf8::Classify(reinterpret_cast<const unsigned char*>(s.data()), s.size());
}

TEST(Utf8Test, ClassifiesSequences) {
  EXPECT_EQ(Classify("A").kind, utf8::SeqKind::kValid);
  EXPECT_EQ(Classify("\xE4\xB8\xAD").length, 3);
  EXPECT_EQ(Classify("\xF0\x9F\x99\x82").length, 4);
  EXPECT_EQ(Classify("\xE4\xB8").kind, utf8::SeqKind::kTruncated);
  // Maximal subparts: how many bytes one U+FFFD replaces.
  EXPECT_EQ(Classify("\xE4\xB8" "A").kind, utf8::SeqKind::kInvalid);
  EXPECT_EQ(Classify("\xE4\xB8" "A").length, 2);
  EXPECT_EQ(Classify("\xE0\x80\x80").length, 1);  // overlong
  EXPECT_EQ(Classify("\xED\xA0\x80").length, 1);  // surrogate
  EXPECT_EQ(Classify("\xF4\x90\x80\x80").length, 1);  // above U+10FFFF
  EXPECT_EQ(Classify("\xC0\xAF").kind, utf8::SeqKind::kInvalid);
  EXPECT_EQ(Classify("\xFF").kind, utf8::SeqKind::kInvalid);
  EXPECT_EQ(utf8::FindInvalid("plain ascii text, long enough for the fast path"),
            std::string_view::npos);
  EXPECT_EQ(utf8::FindInvalid("abcdefghij\xC3"), 10u);
}

TEST(UnicodeTest, PropertiesAndNfc) {
  EXPECT_TRUE(unicode::IsLetter(U'ß'));
  EXPECT_TRUE(unicode::IsLetter(0x4E2D));   // 中
  EXPECT_TRUE(unicode::IsNumber(0x2167));   // Ⅷ (Nl)
  EXPECT_TRUE(unicode::IsWhiteSpace(0x3000));
  EXPECT_FALSE(unicode::IsWhiteSpace(0x200B));  // zero width space is Cf, not White_Space
  EXPECT_FALSE(unicode::IsWhiteSpace(0x1C));
  EXPECT_TRUE(unicode::IsNfcQuick("plain text 中文"));
  EXPECT_FALSE(unicode::IsNfcQuick("e\u0301"));
  EXPECT_EQ(unicode::ToNfc("e\u0301"), "\u00e9");
  EXPECT_EQ(unicode::ToNfc("\u212B"), "\u00C5");  // ANGSTROM SIGN -> A with ring
  EXPECT_EQ(unicode::ToNfc("a\u0302\u0323"), "\u1EAD");  // marks reordered, then composed
  EXPECT_EQ(unicode::ToNfc("\u1112\u1161\u11AB"), "\uD55C");  // Hangul jamo -> 한
}

class TokenizerErrorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::corvid::testing::ScratchDir()) / "errors";
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  // A minimal byte-level tokenizer.json with `field` replaced by `value`.
  absl::StatusOr<std::unique_ptr<Tokenizer>> LoadWith(const std::string& field,
                                                      const std::string& value) {
    nlohmann::json j = {
        {"added_tokens", nlohmann::json::array()},
        {"normalizer", nullptr},
        {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false},
                           {"use_regex", true}}},
        {"post_processor", nullptr},
        {"decoder", {{"type", "ByteLevel"}}},
        {"model", {{"type", "BPE"}, {"vocab", {{"a", 0}, {"b", 1}, {"ab", 2}}},
                   {"merges", {"a b"}}}}};
    if (!field.empty()) j[field] = nlohmann::json::parse(value);
    std::ofstream(dir_ / "tokenizer.json") << j.dump();
    return LoadTokenizer(dir_.string());
  }
  std::filesystem::path dir_;
};

TEST_F(TokenizerErrorsTest, MinimalTokenizerWorks) {
  auto tok = LoadWith("", "");
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ(*(*tok)->Encode("abab", false), (std::vector<int32_t>{2, 2}));
  EXPECT_EQ(*(*tok)->Decode({2, 0}, false), "aba");
}

TEST_F(TokenizerErrorsTest, UnsupportedFeaturesAreClearErrors) {
  struct Case {
    const char* field;
    const char* value;
    const char* message;
  } cases[] = {
      {"normalizer", R"({"type": "NFKC"})", "unsupported normalizer"},
      {"pre_tokenizer", R"({"type": "Split", "pattern": {"Regex": "\\d+"}, "behavior": "Isolated"})",
       "Split regex"},
      {"pre_tokenizer", R"({"type": "Whitespace"})", "unsupported pre-tokenizer"},
      {"decoder", R"({"type": "WordPiece"})", "unsupported decoder"},
      {"post_processor", R"({"type": "BertProcessing"})", "unsupported post_processor"},
      {"model", R"({"type": "Unigram", "vocab": []})", "unsupported model"},
  };
  for (const Case& c : cases) {
    auto tok = LoadWith(c.field, c.value);
    ASSERT_FALSE(tok.ok()) << c.field;
    EXPECT_EQ(tok.status().code(), absl::StatusCode::kUnimplemented) << tok.status();
    EXPECT_THAT(std::string(tok.status().message()), HasSubstr(c.message));
  }
}

TEST_F(TokenizerErrorsTest, MissingAndMalformedFiles) {
  auto missing = LoadTokenizer(dir_.string());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  std::ofstream(dir_ / "tokenizer.json") << "{not json";
  auto bad = LoadTokenizer(dir_.string());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  std::filesystem::remove(dir_ / "tokenizer.json");
  std::ofstream(dir_ / "tokenizer.model") << "not a model";
  EXPECT_EQ(LoadTokenizer(dir_.string()).status().code(), absl::StatusCode::kInvalidArgument);
}

class LoadedTokenizerTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (!::corvid::testing::HaveModels()) GTEST_SKIP() << "no test models (CORVID_TEST_MODELS_DIR)";
    tok_ = CachedTokenizer(GetParam());
    ASSERT_NE(tok_, nullptr);
  }
  const Tokenizer* tok_ = nullptr;
};

TEST_P(LoadedTokenizerTest, RejectsInvalidUtf8AndBadIds) {
  auto ids = tok_->Encode("ok \xC3(", false);
  EXPECT_EQ(ids.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(ids.status().message()), HasSubstr("byte 3"));
  auto text = tok_->Decode({1, 2, tok_->vocab_size()}, false);
  EXPECT_EQ(text.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(text.status().message()), HasSubstr("index 2"));
  EXPECT_EQ(tok_->Decode({-1}, false).status().code(), absl::StatusCode::kInvalidArgument);
}

// A character split over several ids is held back until its last byte arrives.
TEST_P(LoadedTokenizerTest, StreamingHoldsIncompleteCharacters) {
  // U+10000 (LINEAR B SYLLABLE B008 A) takes byte pieces or several byte-level tokens in all.
  const std::string text = "a\xF0\x90\x80\x80 中 b";
  auto ids = tok_->Encode(text, false);
  ASSERT_TRUE(ids.ok());
  auto detok = StreamingDetokenizer::Create(*tok_, false);
  ASSERT_TRUE(detok.ok());
  std::string streamed;
  int held = 0;
  for (int32_t id : *ids) {
    std::string delta = *detok->Add(absl::MakeConstSpan(&id, 1));
    EXPECT_TRUE(utf8::IsValid(delta));
    held += detok->pending_bytes() > 0;
    streamed += delta;
  }
  streamed += detok->Finish();
  EXPECT_EQ(streamed, *tok_->Decode(*ids, false));
  EXPECT_EQ(streamed, text);
  EXPECT_GT(held, 0) << "no id left a character incomplete; the test lost its point";
}

TEST_P(LoadedTokenizerTest, StreamingFinishFlushesIncompleteBytesAsReplacement) {
  // A multi-byte character without its last id: Decode and Finish agree on U+FFFD(s).
  auto ids = tok_->Encode("\xF0\x90\x80\x80", false);
  ASSERT_TRUE(ids.ok());
  ASSERT_GT(ids->size(), 1u);
  const auto cut = absl::MakeConstSpan(ids->data(), ids->size() - 1);
  auto detok = StreamingDetokenizer::Create(*tok_, false);
  const std::string first = *detok->Add(cut);
  const std::string rest = detok->Finish();
  EXPECT_EQ(first + rest, *tok_->Decode(cut, false));
  EXPECT_THAT(first + rest, HasSubstr("\xEF\xBF\xBD"));
  // Finish resets: the detokenizer serves the next sequence from scratch.
  EXPECT_EQ(*detok->Add(*tok_->Encode("Hello", false)) + detok->Finish(), "Hello");
}

// Encode is const and shared by the service's threads: concurrent calls (sharing the BPE
// cache) give the single-threaded ids.
TEST_P(LoadedTokenizerTest, ConcurrentEncodeGivesTheSameIds) {
  std::vector<std::string> texts;
  for (int i = 0; i < 200; ++i) {
    texts.push_back("line " + std::to_string(i) + ": the quick brown fox " +
                    std::string(i % 7, ' ') + "jumps over 中文 " + std::to_string(i * 7919));
  }
  std::vector<std::vector<int32_t>> expected;
  for (const auto& t : texts) expected.push_back(*tok_->Encode(t, true));
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 5; ++round) {
        for (size_t i = 0; i < texts.size(); ++i) {
          const size_t k = (i * (t + 1) + round) % texts.size();
          if (*tok_->Encode(texts[k], true) != expected[k]) ++mismatches;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

INSTANTIATE_TEST_SUITE_P(Models, LoadedTokenizerTest,
                         ::testing::Values("stories260K", "llama2", "llama3", "qwen3",
                                           "deepseek-llm", "deepseek-coder"),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& ch : name) {
                             if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return name;
                         });

// The native SentencePiece BPE encoder against libsentencepiece itself (the firewalled
// library path, used for models the native encoder declines) on every corpus line.
TEST(SentencePieceNativeTest, MatchesLibsentencepiece) {
  if (!::corvid::testing::HaveModels()) GTEST_SKIP() << "no test models (CORVID_TEST_MODELS_DIR)";
  std::vector<std::string> lines = {"", " ", "  a  b  ", "\t\n", "x\xE2\x96\x81y"};
  for (const auto& entry : std::filesystem::directory_iterator(
           std::string(CORVID_SOURCE_DIR) + "/tests/data/tokenizer_corpus")) {
    std::ifstream in(entry.path());
    for (std::string line; std::getline(in, line);) lines.push_back(line);
  }
  for (const char* model : {"/stories260K/tokenizer.model", "/tokenizers/llama2/tokenizer.model"}) {
    std::string error;
    auto library = spm::SentencePieceModel::Load(::corvid::testing::ModelsDir() + model, &error);
    ASSERT_NE(library, nullptr) << error;
    auto native = SentencePieceBpe::Create(library->info());
    ASSERT_NE(native, nullptr) << model << ": the native encoder declined the model";
    for (const auto& line : lines) {
      std::vector<int> expected;
      ASSERT_TRUE(library->Encode(line, &expected, &error)) << error;
      std::vector<int32_t> ids;
      native->Encode(line, &ids);
      EXPECT_EQ(ids, std::vector<int32_t>(expected.begin(), expected.end())) << model << ": " << line;
    }
    spm::ModelInfo unigram = library->info();
    unigram.model_type = 1;
    EXPECT_EQ(SentencePieceBpe::Create(unigram), nullptr);
  }
}

// SentencePiece drops the ▁ of the first piece only: streaming must not drop later ones.
TEST(SentencePieceStreamingTest, LeadingSpaceOnlyAtSequenceStart) {
  if (!::corvid::testing::HaveModels()) GTEST_SKIP() << "no test models (CORVID_TEST_MODELS_DIR)";
  const Tokenizer* tok = CachedTokenizer("llama2");
  ASSERT_NE(tok, nullptr);
  auto ids = tok->Encode("Hello world", /*add_special_tokens=*/true);  // <s> ▁Hello ▁world
  ASSERT_TRUE(ids.ok());
  ASSERT_EQ(ids->size(), 3u);
  auto detok = StreamingDetokenizer::Create(*tok, /*skip_special_tokens=*/true);
  EXPECT_EQ(*detok->Add(absl::MakeConstSpan(ids->data(), 1)), "");
  EXPECT_EQ(*detok->Add(absl::MakeConstSpan(ids->data() + 1, 1)), "Hello");
  EXPECT_EQ(*detok->Add(absl::MakeConstSpan(ids->data() + 2, 1)), " world");
  EXPECT_EQ(detok->Finish(), "");
}

}  // namespace
}  // namespace corvid
