// `corvid tokenize`: lines in, ids out (and back with --decode), same ids as the library.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "tests/engine/tokenizer_test_util.h"

namespace corvid {
namespace {

std::string Corvid() { return std::string(CORVID_BINARY_DIR) + "/tools/corvid/corvid"; }

// Runs `command`, returning its exit code and stdout.
int RunCapture(const std::string& command, std::string* out) {
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return -1;
  char buf[4096];
  size_t n;
  out->clear();
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) out->append(buf, n);
  const int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

class TokenizeCliTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (!::corvid::testing::HaveModels()) GTEST_SKIP() << "no test models (CORVID_TEST_MODELS_DIR)";
    if (!std::filesystem::exists(Corvid())) GTEST_SKIP() << "corvid CLI not built";
  }
};

TEST_P(TokenizeCliTest, EncodesLinesLikeTheLibraryAndDecodesBack) {
  const std::vector<std::string> lines = {"Hello world", "", "  two  spaces  ",
                                          "中文 and emoji \xF0\x9F\x99\x82", "it's 12345"};
  const std::string input = ::corvid::testing::ScratchDir() + "/cli_input.txt";
  std::ofstream(input) << absl::StrJoin(lines, "\n") << "\n";
  const Tokenizer* tok = ::corvid::testing::CachedTokenizer(GetParam());
  ASSERT_NE(tok, nullptr);
  const std::string model = ::corvid::testing::ModelPath(GetParam());

  std::string out;
  ASSERT_EQ(RunCapture(Corvid() + " tokenize --model " + model + " < " + input, &out), 0);
  std::string expected;
  for (const auto& line : lines) expected += absl::StrJoin(*tok->Encode(line, true), " ") + "\n";
  EXPECT_EQ(out, expected);

  const std::string ids_file = ::corvid::testing::ScratchDir() + "/cli_ids.txt";
  ASSERT_EQ(RunCapture(Corvid() + " tokenize --no-special --model " + model + " < " + input +
                           " > " + ids_file + " && " + Corvid() +
                           " tokenize --decode --model " + model + " < " + ids_file,
                       &out),
            0);
  std::string decoded;
  for (const auto& line : lines) decoded += *tok->Decode(*tok->Encode(line, false), false) + "\n";
  EXPECT_EQ(out, decoded);
}

INSTANTIATE_TEST_SUITE_P(Models, TokenizeCliTest, ::testing::Values("stories260K", "qwen3"));

TEST(TokenizeCliErrorsTest, UnreachableServerAndMissingModelAreErrors) {
  if (!std::filesystem::exists(Corvid())) GTEST_SKIP() << "corvid CLI not built";
  std::string out;
  // Nothing listens on port 1: the first line fails with the transport's status, exit 1.
  EXPECT_EQ(RunCapture("echo hi | " + Corvid() + " tokenize --server localhost:1 2>&1", &out), 1);
  EXPECT_NE(out.find("UNAVAILABLE"), std::string::npos) << out;
  EXPECT_EQ(RunCapture(Corvid() + " tokenize --server localhost:1 --model /x </dev/null 2>&1", &out),
            2);
  EXPECT_NE(out.find("not both"), std::string::npos) << out;
  EXPECT_EQ(RunCapture(Corvid() + " tokenize --model /nonexistent </dev/null 2>&1", &out), 1);
  EXPECT_NE(out.find("NOT_FOUND"), std::string::npos) << out;
}

}  // namespace
}  // namespace corvid
