// The synthetic-checkpoint writer (what corvid-make-checkpoint runs) and the loader agree: a
// written folder parses, loads, holds exactly the Dummy weights of its seed, and is
// byte-identical when written twice. Runs under ASan + UBSan in deploy/test.sh.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "engine/checkpoint_writer.h"
#include "engine/model_config.h"
#include "engine/model_presets.h"
#include "engine/weights.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/engine/loader_test_util.h"

namespace corvid {
namespace {

namespace fs = std::filesystem;
using testing_util::ReadFileBytes;
using testing_util::ScratchDir;

std::vector<std::string> Corpus() {
  std::vector<std::string> texts;
  const fs::path dir = fs::path(CORVID_SOURCE_DIR) / "data" / "corpus";
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".txt") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) texts.push_back(ReadFileBytes(f.string()));
  return texts;
}

void ExpectStoreEqualsDummy(const WeightStore& store, const ModelConfig& config, DType dtype,
                            uint64_t seed) {
  auto dummy = WeightStore::Dummy(config, dtype, seed);
  ASSERT_TRUE(dummy.ok()) << dummy.status();
  EXPECT_EQ(store.Names(), (*dummy)->Names());
  for (const std::string& name : (*dummy)->Names()) {
    const TensorView* want = (*dummy)->Find(name);
    const TensorView* got = store.Find(name);
    ASSERT_NE(got, nullptr) << name;
    EXPECT_EQ(got->dtype, dtype) << name;
    ASSERT_EQ(got->nbytes, want->nbytes) << name;
    EXPECT_EQ(std::memcmp(got->data, want->data, want->nbytes), 0) << name;
  }
}

TEST(CheckpointLoaderTest, TinyPresetRoundTripsThroughTheLoader) {
  auto preset = PresetConfig("tiny");
  ASSERT_TRUE(preset.ok()) << preset.status();
  ScratchDir dir;
  CheckpointOptions options;
  options.seed = 11;
  options.corpus_texts = Corpus();
  ASSERT_FALSE(options.corpus_texts.empty());
  ASSERT_TRUE(WriteCheckpoint(*preset, dir.path(), options).ok());
  for (const char* f : {"config.json", "generation_config.json", "model.safetensors",
                        "tokenizer.model", "tokenizer_config.json", "special_tokens_map.json"}) {
    EXPECT_TRUE(fs::exists(dir / f)) << f;
  }
  auto config = ModelConfig::FromDir(dir.path());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->hidden_size, preset->hidden_size);
  EXPECT_EQ(config->num_kv_heads, preset->num_kv_heads);
  EXPECT_EQ(config->vocab_size, preset->vocab_size);
  EXPECT_EQ(config->tie_word_embeddings, preset->tie_word_embeddings);
  EXPECT_EQ(config->bos_token_id, 1);
  EXPECT_EQ(config->eos_token_ids, std::vector<int>{2});
  auto store = WeightStore::Open(dir.path(), *config);
  ASSERT_TRUE(store.ok()) << store.status();
  ExpectStoreEqualsDummy(**store, *config, DType::kF32, 11);
  auto tc = nlohmann::json::parse(ReadFileBytes(dir / "tokenizer_config.json"));
  EXPECT_EQ(tc["add_bos_token"], true);
}

TEST(CheckpointLoaderTest, ShardedBf16AndDeterministic) {
  auto preset = PresetConfig("tiny");
  ASSERT_TRUE(preset.ok());
  ScratchDir a, b;
  CheckpointOptions options;
  options.seed = 3;
  options.dtype = DType::kBF16;
  options.num_shards = 3;
  options.corpus_texts = Corpus();
  ASSERT_TRUE(WriteCheckpoint(*preset, a.path(), options).ok());
  ASSERT_TRUE(WriteCheckpoint(*preset, b.path(), options).ok());
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(a.path())) names.push_back(e.path().filename());
  std::sort(names.begin(), names.end());
  EXPECT_THAT(names, ::testing::Contains("model-00003-of-00003.safetensors"));
  EXPECT_THAT(names, ::testing::Contains("model.safetensors.index.json"));
  EXPECT_THAT(names, ::testing::Not(::testing::Contains("model.safetensors")));
  for (const std::string& n : names) {
    EXPECT_EQ(ReadFileBytes(a / n), ReadFileBytes(b / n)) << n << " differs between two runs";
  }
  auto config = ModelConfig::FromDir(a.path());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->dtype, DType::kBF16);
  auto store = WeightStore::Open(a.path(), *config);
  ASSERT_TRUE(store.ok()) << store.status();
  ExpectStoreEqualsDummy(**store, *config, DType::kBF16, 3);

  // Another seed gives other weights (the tokenizer does not depend on the seed).
  ScratchDir c;
  options.seed = 4;
  ASSERT_TRUE(WriteCheckpoint(*preset, c.path(), options).ok());
  EXPECT_NE(ReadFileBytes(a / "model-00001-of-00003.safetensors"),
            ReadFileBytes(c / "model-00001-of-00003.safetensors"));
  EXPECT_EQ(ReadFileBytes(a / "tokenizer.model"), ReadFileBytes(c / "tokenizer.model"));
}

TEST(CheckpointLoaderTest, RefusesOversizedAndBadOptionsPolitely) {
  ScratchDir dir;
  auto big = PresetConfig("llama-3-70b");
  ASSERT_TRUE(big.ok());
  absl::Status st = WriteCheckpoint(*big, dir / "big", CheckpointOptions{});
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(st.message()), ::testing::HasSubstr("Dummy"));
  EXPECT_FALSE(fs::exists(dir / "big"));  // refused before touching the disk
  auto tiny = PresetConfig("tiny");
  CheckpointOptions bad;
  bad.num_shards = 0;
  EXPECT_EQ(WriteCheckpoint(*tiny, dir.path(), bad).code(), absl::StatusCode::kInvalidArgument);
  bad.num_shards = 1;
  bad.dtype = DType::kI8;
  EXPECT_EQ(WriteCheckpoint(*tiny, dir.path(), bad).code(), absl::StatusCode::kInvalidArgument);
}

// An independent reader (Python: json + numpy + sentencepiece) sees the same tensors, in the
// layout the reference safetensors library requires, and a working 512-piece tokenizer.
TEST(CheckpointLoaderTest, PythonReaderAgrees) {
  const std::string python = std::string(CORVID_SOURCE_DIR) + "/.venv/bin/python";
  if (!fs::exists(python)) GTEST_SKIP() << python << " not found";
  auto preset = PresetConfig("tiny");
  ASSERT_TRUE(preset.ok());
  ScratchDir dir;
  CheckpointOptions options;
  options.seed = 21;
  options.dtype = DType::kBF16;
  options.num_shards = 2;
  options.corpus_texts = Corpus();
  ASSERT_TRUE(WriteCheckpoint(*preset, dir.path(), options).ok());
  const std::string cmd = python + " " + CORVID_SOURCE_DIR + "/tests/engine/read_checkpoint.py " +
                          dir.path() + " > " + (dir / "py.txt") + " 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << ReadFileBytes(dir / "py.txt");
  auto config = ModelConfig::FromDir(dir.path());
  ASSERT_TRUE(config.ok());
  auto store = WeightStore::Open(dir.path(), *config);
  ASSERT_TRUE(store.ok()) << store.status();
  std::istringstream lines(ReadFileBytes(dir / "py.txt"));
  std::string kind, name, dtype, shape;
  size_t seen = 0;
  while (lines >> kind) {
    if (kind == "tokenizer") {
      int pieces, bos, eos, unk, round_trip;
      lines >> pieces >> bos >> eos >> unk >> round_trip;
      EXPECT_EQ(pieces, 512);
      EXPECT_EQ(bos, 1);
      EXPECT_EQ(eos, 2);
      EXPECT_EQ(unk, 0);
      EXPECT_EQ(round_trip, 1);
      continue;
    }
    double py_sum;
    lines >> name >> dtype >> shape >> py_sum;
    const TensorView* t = (*store)->Find(name);
    ASSERT_NE(t, nullptr) << name;
    EXPECT_EQ(dtype, DTypeName(t->dtype));
    std::vector<float> values(t->numel());
    ConvertToF32(t->dtype, t->data, values.data(), t->numel());
    double sum = 0;
    for (float v : values) sum += v;
    EXPECT_NEAR(sum, py_sum, 1e-9 * (1 + std::fabs(py_sum))) << name;
    ++seen;
  }
  EXPECT_EQ(seen, ExpectedTensors(*config).size());
}

// The installed tool itself, when it has been built (it is not a dependency of this test).
TEST(CheckpointLoaderTest, ToolWritesALoadableFolder) {
  const std::string tool =
      std::string(CORVID_BINARY_DIR) + "/tools/make_checkpoint/corvid-make-checkpoint";
  if (!fs::exists(tool)) GTEST_SKIP() << tool << " not built";
  ScratchDir dir;
  const std::string cmd =
      tool + " --preset tiny --out " + dir.path() + " --seed 5 --dtype f16 --shards 2 > /dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  auto config = ModelConfig::FromDir(dir.path());
  ASSERT_TRUE(config.ok()) << config.status();
  auto store = WeightStore::Open(dir.path(), *config);
  ASSERT_TRUE(store.ok()) << store.status();
  ExpectStoreEqualsDummy(**store, *config, DType::kF16, 5);
  EXPECT_GT(ReadFileBytes(dir / "tokenizer.model").size(), 1000u);
  EXPECT_NE(std::system((tool + " --preset nope --out " + dir.path() + " 2> /dev/null").c_str()),
            0);
}

}  // namespace
}  // namespace corvid
