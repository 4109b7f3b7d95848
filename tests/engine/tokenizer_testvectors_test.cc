// Golden ids shipped with the shared models: llama.cpp's tokenizer test vectors (produced by
// Hugging Face on the original tokenizers) and stories260K/tokenizer_tests.json (sentencepiece).
#include <fstream>
#include <sstream>

#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/engine/tokenizer_test_util.h"

namespace corvid {
namespace {

using ::corvid::testing::CachedTokenizer;
using ::corvid::testing::ModelsDir;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct VectorCase {
  const char* vectors;    // ggml-vocab-<vectors>.gguf.{inp,out}
  const char* tokenizer;  // CachedTokenizer name
};

class TestVectorsTest : public ::testing::TestWithParam<VectorCase> {};

TEST_P(TestVectorsTest, MatchesExpectedIds) {
  if (!::corvid::testing::HaveModels()) GTEST_SKIP() << "no test models (CORVID_TEST_MODELS_DIR)";
  const std::string base =
      ModelsDir() + "/tokenizers/testvectors/ggml-vocab-" + GetParam().vectors + ".gguf";
  const std::string inp = ReadAll(base + ".inp"), out = ReadAll(base + ".out");
  ASSERT_FALSE(inp.empty());
  std::vector<std::string> texts = absl::StrSplit(inp, "\n__ggml_vocab_test__\n");
  std::vector<std::string> lines = absl::StrSplit(out, '\n');
  texts.pop_back();  // the file ends with a separator
  ASSERT_EQ(texts.size(), 46u);
  ASSERT_GE(lines.size(), texts.size());
  const Tokenizer* tokenizer = CachedTokenizer(GetParam().tokenizer);
  ASSERT_NE(tokenizer, nullptr);
  int matched = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    std::vector<int32_t> expected;
    for (absl::string_view f : absl::StrSplit(lines[i], ' ', absl::SkipEmpty())) {
      expected.push_back(std::stoi(std::string(f)));
    }
    auto ids = tokenizer->Encode(texts[i], /*add_special_tokens=*/false);
    ASSERT_TRUE(ids.ok()) << ids.status();
    EXPECT_EQ(*ids, expected) << "case " << i << ": '" << texts[i] << "'";
    matched += *ids == expected;
  }
  EXPECT_EQ(matched, 46);
}

INSTANTIATE_TEST_SUITE_P(
    Ggml, TestVectorsTest,
    ::testing::Values(VectorCase{"llama-spm", "llama2"},
                      VectorCase{"llama-spm", "llama2-json-legacy"},
                      VectorCase{"llama-bpe", "llama3"}, VectorCase{"qwen2", "qwen3"},
                      VectorCase{"deepseek-r1-qwen", "qwen3"},
                      VectorCase{"deepseek-llm", "deepseek-llm"},
                      VectorCase{"deepseek-coder", "deepseek-coder"}),
    [](const auto& info) {
      std::string name = std::string(info.param.vectors) + "_" + info.param.tokenizer;
      for (char& ch : name) {
        if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
      }
      return name;
    });

TEST(Stories260KTokenizerTest, MatchesTokenizerTestsJson) {
  if (!::corvid::testing::HaveModels()) GTEST_SKIP() << "no test models (CORVID_TEST_MODELS_DIR)";
  const nlohmann::json tests =
      nlohmann::json::parse(ReadAll(ModelsDir() + "/stories260K/tokenizer_tests.json"));
  const Tokenizer* tokenizer = CachedTokenizer("stories260K");
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_EQ(tokenizer->bos_id(), tests["bos_id"].get<int>());
  EXPECT_EQ(tokenizer->eos_id(), tests["eos_id"].get<int>());
  EXPECT_EQ(tokenizer->vocab_size(), tests["vocab_size"].get<int>());
  ASSERT_EQ(tests["cases"].size(), 51u);
  for (const auto& c : tests["cases"]) {
    const std::string text = c["text"];
    const auto expected = c["ids"].get<std::vector<int32_t>>();
    auto ids = tokenizer->Encode(text, /*add_special_tokens=*/false);
    ASSERT_TRUE(ids.ok()) << ids.status();
    EXPECT_EQ(*ids, expected) << "'" << text << "'";
    for (size_t k = 0; k < expected.size(); ++k) {
      EXPECT_EQ(tokenizer->IdToPiece(expected[k]), c["pieces"][k].get<std::string>());
    }
    EXPECT_EQ(*tokenizer->Decode(expected, false), c["decoded"].get<std::string>());
  }
  // The golden prompt of stories260K/golden.json, with bos per tokenizer_config.json.
  EXPECT_EQ(*tokenizer->Encode("Once upon a time", true), (std::vector<int32_t>{1, 403, 407, 261, 378}));
}

}  // namespace
}  // namespace corvid
