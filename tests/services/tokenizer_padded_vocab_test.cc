// Padded vocabularies in the tokenizer tier: a model folder whose config.json has more rows than
// the tokenizer has pieces (stories260K's 512-piece tokenizer under a 1024-row config) accepts
// ids up to the model's size, decodes the padding ids to no text in Decode and
// DetokenizeStream alike (the text equals the library's decode of the other ids), and still
// refuses ids beyond the model.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/tokenizer/batch_ops.h"
#include "services/tokenizer/detokenize_session.h"
#include "services/tokenizer/model_registry.h"
#include "services/tokenizer/padded_vocab.h"

namespace corvid::tokenizer_service {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr int kPieces = 512;  // stories260K's tokenizer
constexpr int kRows = 1024;   // the padded model vocabulary written below

std::string StoriesDir() { return std::string(CORVID_TEST_MODELS_DIR) + "/stories260K"; }

void WriteFile(const fs::path& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
}

// A folder with stories260K's tokenizer files and a config.json of `config_text`.
fs::path MakeModelDir(const std::string& name, const std::string& config_text) {
  fs::path dir = fs::temp_directory_path() /
                 ("corvid_padded_vocab_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const char* f : {"tokenizer.model", "tokenizer_config.json", "special_tokens_map.json"}) {
    fs::copy_file(fs::path(StoriesDir()) / f, dir / f);
  }
  WriteFile(dir / "config.json", config_text);
  return dir;
}

// Ids of `ids` below kPieces, in order.
std::vector<int32_t> Unpadded(const std::vector<int32_t>& ids) {
  std::vector<int32_t> out;
  for (int32_t id : ids) {
    if (id < kPieces) out.push_back(id);
  }
  return out;
}

class PaddedVocabTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(StoriesDir() + "/tokenizer.model")) {
      GTEST_SKIP() << "no stories260K tokenizer under " CORVID_TEST_MODELS_DIR;
    }
    dir_ = MakeModelDir("ok", "{\"vocab_size\": 1024, \"hidden_size\": 64}");
    auto registry = ModelRegistry::Load({{"padded", dir_.string()}});
    ASSERT_TRUE(registry.ok()) << registry.status();
    registry_ = std::move(registry).value();
    model_ = *registry_->Find("padded");
    // Greedy-like output of a random model: real pieces mixed with padding ids.
    std::mt19937 rng(7);
    std::uniform_int_distribution<int32_t> any(3, kRows - 1);
    for (int i = 0; i < 200; ++i) ids_.push_back(any(rng));
    ids_.push_back(kRows - 1);
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  fs::path dir_;
  std::unique_ptr<ModelRegistry> registry_;
  const LoadedModel* model_ = nullptr;
  std::vector<int32_t> ids_;
};

TEST(ConfigVocabSizeTest, ReadsTheFieldOrZero) {
  fs::path dir = fs::temp_directory_path() / ("corvid_cfg_vocab_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  EXPECT_EQ(*ConfigVocabSize(dir.string()), 0);  // no config.json: a tokenizer-only folder
  WriteFile(dir / "config.json", "{\"vocab_size\": 151936}");
  EXPECT_EQ(*ConfigVocabSize(dir.string()), 151936);
  WriteFile(dir / "config.json", "{\"hidden_size\": 8}");
  EXPECT_EQ(*ConfigVocabSize(dir.string()), 0);
  WriteFile(dir / "config.json", "{\"vocab_size\": -3}");
  EXPECT_THAT(std::string(ConfigVocabSize(dir.string()).status().message()),
              HasSubstr("vocab_size"));
  WriteFile(dir / "config.json", "{\"vocab_size\": ");
  auto bad = ConfigVocabSize(dir.string());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("config.json"));
  fs::remove_all(dir);
}

TEST(WithoutPaddingIdsTest, CopiesOnlyWhenThereIsPadding) {
  std::vector<int32_t> scratch;
  const std::vector<int32_t> plain = {1, 5, 511};
  absl::Span<const int32_t> same = WithoutPaddingIds(plain, 512, &scratch);
  EXPECT_EQ(same.data(), plain.data());  // no copy on the hot path
  EXPECT_TRUE(scratch.empty());
  const std::vector<int32_t> mixed = {512, 1, 900, 5, 511, 1023};
  EXPECT_THAT(WithoutPaddingIds(mixed, 512, &scratch), ElementsAre(1, 5, 511));
  EXPECT_TRUE(WithoutPaddingIds(std::vector<int32_t>{600, 700}, 512, &scratch).empty());
}

TEST_F(PaddedVocabTest, RegistryTakesTheModelsSize) {
  EXPECT_EQ(model_->piece_count, kPieces);
  EXPECT_EQ(model_->vocab_size, kRows);
  v1::GetInfoResponse info;
  FillInfo(*model_, registry_->names(), Limits(), &info);
  EXPECT_EQ(info.vocab_size(), kRows);
  EXPECT_EQ(info.piece_count(), kPieces);
  // The unpadded folder keeps the tokenizer's own size.
  auto plain = LoadModel({"plain", StoriesDir()});
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ((*plain)->vocab_size, kPieces);
  EXPECT_EQ((*plain)->piece_count, kPieces);
}

TEST_F(PaddedVocabTest, BadConfigFailsTheLoadNamingTheModel) {
  fs::path bad = MakeModelDir("bad", "{\"vocab_size\": \"many\"}");
  auto model = LoadModel({"broken", bad.string()});
  fs::remove_all(bad);
  ASSERT_FALSE(model.ok());
  EXPECT_THAT(std::string(model.status().message()), HasSubstr("model 'broken'"));
}

TEST_F(PaddedVocabTest, DecodeSkipsPaddingIdsAndRefusesIdsBeyondTheModel) {
  const std::vector<int32_t> real = Unpadded(ids_);
  ASSERT_LT(real.size(), ids_.size());  // the sample does hold padding ids
  auto expected = model_->tokenizer->Decode(real, /*skip_special_tokens=*/false);
  ASSERT_TRUE(expected.ok());
  v1::DecodeRequest request;
  request.add_sequences()->mutable_ids()->Add(ids_.begin(), ids_.end());
  request.add_sequences()->mutable_ids()->Add(kPieces);  // padding alone: no text
  v1::DecodeResponse response;
  ASSERT_TRUE(RunDecode(*model_, Limits(), request, &response).ok());
  ASSERT_EQ(response.texts_size(), 2);
  EXPECT_EQ(response.texts(0), *expected);
  EXPECT_EQ(response.texts(1), "");

  v1::DecodeRequest beyond;
  beyond.add_sequences()->mutable_ids()->Add(kRows);
  absl::Status refused = RunDecode(*model_, Limits(), beyond, &response);
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(refused.message()), HasSubstr("sequences[0].ids[0] = 1024"));
}

TEST_F(PaddedVocabTest, StreamSkipsPaddingIdsAndRefusesIdsBeyondTheModel) {
  DetokenizeSession session(*registry_, Limits());
  std::string text;
  // One id a step, as a decode step sends them; the prefix carries padding ids too.
  for (size_t i = 0; i < ids_.size(); ++i) {
    v1::DetokenizeRequest request;
    v1::DetokenizeStep* step = request.add_steps();
    step->set_sequence_id(9);
    if (i == 0) {
      for (int32_t id : {1, 700, 1023}) step->add_prefix_ids(id);
    }
    step->add_ids(ids_[i]);
    step->set_finish(i + 1 == ids_.size());
    v1::DetokenizeResponse reply;
    ASSERT_TRUE(session.Apply(request, /*admit_new=*/true, &reply).ok());
    for (const v1::TextDelta& d : reply.deltas()) {
      ASSERT_FALSE(d.has_error()) << d.error().message();
      text += d.text();
    }
  }
  auto expected = model_->tokenizer->Decode(Unpadded(ids_), /*skip_special_tokens=*/false);
  ASSERT_TRUE(expected.ok());
  EXPECT_EQ(text, *expected);
  EXPECT_EQ(session.live_sequences(), 0);

  v1::DetokenizeRequest beyond;
  v1::DetokenizeStep* step = beyond.add_steps();
  step->set_sequence_id(10);
  step->add_ids(kRows);
  v1::DetokenizeResponse reply;
  ASSERT_TRUE(session.Apply(beyond, /*admit_new=*/true, &reply).ok());
  ASSERT_EQ(reply.deltas_size(), 1);
  EXPECT_TRUE(reply.deltas(0).has_error());
  EXPECT_EQ(reply.deltas(0).error().code(), static_cast<int>(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace corvid::tokenizer_service
