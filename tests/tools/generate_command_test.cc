// `corvid generate` end to end: the real binary on stories260K must stream the golden greedy
// text, and reject bad input with a clear message and a non-zero exit code.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace {

const std::string kModelDir = std::string(CORVID_TEST_MODELS_DIR) + "/stories260K";

struct RunResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs `corvid generate <args>` through the shell, capturing both streams.
RunResult Generate(const std::string& args) {
  // ctest runs this binary's tests as parallel processes: each call gets its own stderr file.
  static int calls = 0;
  const std::string err_path = ::testing::TempDir() + "/corvid_generate_stderr." +
                               std::to_string(getpid()) + "." + std::to_string(++calls) + ".txt";
  const std::string command =
      std::string(CORVID_CLI) + " generate " + args + " 2>" + err_path;
  RunResult result;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) result.out.append(buffer, n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream err(err_path);
  std::stringstream text;
  text << err.rdbuf();
  result.err = text.str();
  return result;
}

std::string GoldenText() {
  std::ifstream in(kModelDir + "/golden.json");
  if (!in) return "";
  std::stringstream text;
  text << in.rdbuf();
  return nlohmann::json::parse(text.str()).at("greedy").at("output_text").get<std::string>();
}

TEST(GenerateCommandTest, GreedyStreamsTheGoldenContinuation) {
  const std::string golden = GoldenText();
  if (golden.empty()) GTEST_SKIP() << "stories260K not found under " << kModelDir;
  const RunResult r = Generate("--model " + kModelDir +
                               " --prompt 'Once upon a time' --temperature 0 --max-tokens 40"
                               " --threads 1 --backend cpu");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, golden + "\n");
  EXPECT_NE(r.err.find("40 generated"), std::string::npos) << r.err;
}

TEST(GenerateCommandTest, SeededSamplingIsReproducible) {
  if (GoldenText().empty()) GTEST_SKIP() << "stories260K not found under " << kModelDir;
  const std::string args = "--model " + kModelDir +
                           " --prompt 'Lily' --temperature 0.9 --top-p 0.9 --seed 11"
                           " --max-tokens 24 --threads 1";
  const RunResult a = Generate(args), b = Generate(args);
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
  EXPECT_GT(a.out.size(), 1u);
}

TEST(GenerateCommandTest, BadInputIsAClearError) {
  struct Case {
    std::string args;
    int exit_code;
    std::string message;
  };
  const Case cases[] = {
      {"--prompt hi", 2, "--model is required"},
      {"--model /nonexistent/model --prompt hi", 1, "/nonexistent/model"},
      {"--model " + kModelDir + " --prompt hi --max-tokens many", 2, "--max-tokens"},
      {"--model " + kModelDir + " --prompt hi --frobnicate 1", 2, "unknown flag --frobnicate"},
      {"--model " + kModelDir + " --prompt hi --backend tpu", 2, "--backend"},
      {"--model " + kModelDir + " --prompt hi --top-p 1.5", 1, "sampling.top_p"},
      {"--model " + kModelDir + " --prompt hi --max-tokens 100000", 1, "max_tokens"},
      {"--model " + kModelDir + " --server 127.0.0.1:1 --prompt hi", 2, "not both"},
      {"--server 127.0.0.1:1 --prompt hi --timeout 5", 1, "UNAVAILABLE"},
  };
  for (const Case& c : cases) {
    const RunResult r = Generate(c.args);
    EXPECT_EQ(r.exit_code, c.exit_code) << c.args << "\n" << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.args << "\n" << r.err;
    EXPECT_TRUE(r.out.empty() || r.exit_code == 0) << c.args;
  }
}

// Without a CUDA build or a GPU, --backend cuda must say so; with both it must generate (the
// CUDA backend computes an F32 checkpoint in BF16, so the text need not be the F32 golden).
TEST(GenerateCommandTest, CudaBackendWorksOrExplainsWhyNot) {
  if (GoldenText().empty()) GTEST_SKIP() << "stories260K not found under " << kModelDir;
  const RunResult r = Generate("--model " + kModelDir +
                               " --prompt 'Once upon a time' --temperature 0 --max-tokens 40"
                               " --backend cuda");
  if (r.exit_code == 0) {
    EXPECT_NE(r.err.find("[cuda"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("40 generated"), std::string::npos) << r.err;
    EXPECT_GT(r.out.size(), 1u);
  } else {
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_TRUE(r.err.find("CUDA") != std::string::npos ||
                r.err.find("GPU") != std::string::npos) << r.err;
  }
}

// A model whose vocabulary is padded beyond its tokenizer (the tiny preset with 1024 rows and
// its 512-piece tokenizer, random weights): sampled ids without a piece add no text and the
// generation runs to its end instead of failing on the first of them.
TEST(GenerateCommandTest, PaddedVocabularyIdsAddNoText) {
#ifndef CORVID_MAKE_CHECKPOINT
  GTEST_SKIP() << "corvid-make-checkpoint is not part of this build";
#else
  const std::string dir = ::testing::TempDir() + "/corvid_generate_padded." +
                          std::to_string(getpid());
  const std::string write = std::string(CORVID_MAKE_CHECKPOINT) +
                            " --preset tiny --vocab_size 1024 --seed 5 --out " + dir +
                            " >/dev/null 2>&1";
  ASSERT_EQ(std::system(write.c_str()), 0) << write;
  const RunResult r = Generate("--model " + dir +
                               " --prompt 'Once upon a time' --temperature 1 --seed 3"
                               " --max-tokens 48 --threads 1 --backend cpu");
  std::system(("rm -rf " + dir).c_str());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find(" generated in "), std::string::npos) << r.err;
#endif
}

}  // namespace
