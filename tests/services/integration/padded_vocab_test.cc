// A model whose vocabulary is padded beyond its tokenizer, served end to end: the tiny preset
// with 1024 rows (random weights) and its 512-piece tokenizer (corvid-make-checkpoint
// --vocab_size 1024) samples ids with no piece about half the time. Every stream must complete with
// all its tokens counted, the padding ids streamed as ids, and the text equal to the detokenization
// of the other ids.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "engine/tokenizer/streaming_detokenizer.h"
#include "engine/tokenizer/tokenizer.h"
#include "tests/services/integration/cluster.h"

namespace corvid::testing {
namespace {

namespace fs = std::filesystem;

constexpr int kPieces = 512;
constexpr int kRows = 1024;
constexpr int kStreams = 8;
constexpr int kTokens = 48;

class PaddedVocabServiceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string tool =
        std::string(CORVID_BINARY_DIR) + "/tools/make_checkpoint/corvid-make-checkpoint";
    if (!fs::exists(tool)) return;
    dir_ = new fs::path(fs::temp_directory_path() /
                        ("corvid_padded_model_" + std::to_string(::getpid())));
    fs::remove_all(*dir_);
    Process writer(tool,
                   {"--preset", "tiny", "--vocab_size", std::to_string(kRows), "--seed", "11",
                    "--out", dir_->string()},
                   dir_->string() + ".log");
    ASSERT_TRUE(writer.Start().ok());
    auto exit_code = writer.Wait(absl::Seconds(120));
    ASSERT_TRUE(exit_code.ok() && *exit_code == 0) << writer.Log();
    ClusterOptions cluster_options;
    cluster_options.model_dir = dir_->string();
    auto cluster = Cluster::Start(cluster_options);
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = cluster->release();
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
    if (dir_ != nullptr) {
      fs::remove_all(*dir_);
      fs::remove(dir_->string() + ".log");
    }
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    if (dir_ == nullptr) GTEST_SKIP() << "corvid-make-checkpoint is not built";
    ASSERT_NE(cluster_, nullptr);
  }

  static fs::path* dir_;
  static Cluster* cluster_;
};

fs::path* PaddedVocabServiceTest::dir_ = nullptr;
Cluster* PaddedVocabServiceTest::cluster_ = nullptr;

// What the scheduler's stream should read for `ids` after the prompt {1} (BOS): the streaming
// detokenizer (special tokens skipped, as the scheduler asks) over the ids that have a piece.
std::string ExpectedText(const Tokenizer& tokenizer, const std::vector<int32_t>& ids) {
  std::vector<int32_t> real;
  for (int32_t id : ids) {
    if (id < kPieces) real.push_back(id);
  }
  auto detok = StreamingDetokenizer::Create(tokenizer, /*skip_special_tokens=*/true);
  EXPECT_TRUE(detok.ok());
  std::string text, discarded;
  const std::vector<int32_t> prefix = {1};
  EXPECT_TRUE(detok->Add(prefix, &discarded).ok());
  EXPECT_TRUE(detok->Add(real, &text).ok());
  detok->Finish(&text);
  return text;
}

TEST_F(PaddedVocabServiceTest, PaddingIdsStreamAsTokensWithNoText) {
  auto tokenizer = LoadTokenizer(dir_->string());
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  std::vector<StreamResult> results(kStreams);
  std::vector<std::thread> threads;
  for (int i = 0; i < kStreams; ++i) {
    threads.emplace_back([&, i] {
      v1::GenerateRequest request;
      request.mutable_token_ids()->add_ids(1);
      request.set_max_tokens(kTokens);
      request.set_ignore_eos(true);
      request.mutable_sampling()->set_temperature(1.0f);
      request.set_seed(100 + i);
      auto stub = cluster_->NewStub();
      results[i] = RunStream(stub.get(), request, absl::Seconds(60));
    });
  }
  for (auto& t : threads) t.join();
  int padding = 0;
  for (int i = 0; i < kStreams; ++i) {
    const StreamResult& r = results[i];
    ASSERT_TRUE(r.status.ok()) << i << ": " << r.status.error_message() << cluster_->Logs();
    ASSERT_EQ(r.ids.size(), static_cast<size_t>(kTokens)) << i;
    EXPECT_EQ(r.final.usage().completion_tokens(), static_cast<uint32_t>(kTokens)) << i;
    EXPECT_EQ(r.final.finish_reason(), v1::FINISH_REASON_LENGTH) << i;
    for (int32_t id : r.ids) {
      EXPECT_GE(id, 0);
      EXPECT_LT(id, kRows);
      padding += id >= kPieces;
    }
    EXPECT_EQ(r.text, ExpectedText(**tokenizer, r.ids)) << i;
  }
  // The premise: the random model did sample padding ids (about half of them).
  EXPECT_GT(padding, kStreams * kTokens / 8);
}

}  // namespace
}  // namespace corvid::testing
