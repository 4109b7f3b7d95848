// Loader tests on real data: stories260K in F32/BF16/F16, the half-precision files checked
// against the F32 one rounded here, a sharded round trip through the writer, and Dummy weights.
// Runs under ASan + UBSan in deploy/test.sh.
#include <omp.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "engine/model_config.h"
#include "engine/safetensors_file.h"
#include "engine/safetensors_writer.h"
#include "engine/weights.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/engine/loader_test_util.h"

namespace corvid {
namespace {

using testing_util::ModelsDir;
using testing_util::ScratchDir;
using testing_util::WriteFileBytes;

std::unique_ptr<WeightStore> OpenStories(const std::string& folder, ModelConfig* config) {
  const std::string dir = ModelsDir() + "/" + folder;
  auto c = ModelConfig::FromDir(dir);
  EXPECT_TRUE(c.ok()) << c.status();
  if (!c.ok()) return nullptr;
  auto store = WeightStore::Open(dir, *c);
  EXPECT_TRUE(store.ok()) << store.status();
  if (!store.ok()) return nullptr;
  *config = *c;
  return std::move(store).value();
}

struct Folder {
  const char* name;
  DType dtype;
};
// Printed in ctest's test names: keep it readable and free of addresses.
void PrintTo(const Folder& f, std::ostream* os) { *os << f.name; }

class Stories260KLoaderTest : public ::testing::TestWithParam<Folder> {};

TEST_P(Stories260KLoaderTest, LoadsAll47TensorsWithRightShapes) {
  CORVID_SKIP_WITHOUT_STORIES();
  ModelConfig config;
  auto store = OpenStories(GetParam().name, &config);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(config.dtype, GetParam().dtype);
  const auto expected = ExpectedTensors(config);
  EXPECT_EQ(expected.size(), 47u);
  EXPECT_EQ(store->Names().size(), 47u);
  int64_t params = 0;
  for (const auto& [name, shape] : expected) {
    auto t = store->Get(name);
    ASSERT_TRUE(t.ok()) << t.status();
    EXPECT_EQ((*t)->shape, shape) << name;
    EXPECT_EQ((*t)->dtype, GetParam().dtype) << name;
    EXPECT_EQ((*t)->nbytes, static_cast<size_t>((*t)->numel()) * DTypeSize(GetParam().dtype));
    params += (*t)->numel();
  }
  EXPECT_EQ(params, config.NumParameters());
  EXPECT_EQ(store->Find("lm_head.weight"), nullptr);  // tied
  auto k = store->Get("model.layers.4.self_attn.k_proj.weight");
  ASSERT_TRUE(k.ok());
  EXPECT_EQ((*k)->shape, (std::vector<int64_t>{32, 64}));  // GQA: 4 KV heads of 8
  EXPECT_EQ(store->Get("no.such.tensor").status().code(), absl::StatusCode::kNotFound);
}

INSTANTIATE_TEST_SUITE_P(Dtypes, Stories260KLoaderTest,
                         ::testing::Values(Folder{"stories260K", DType::kF32},
                                           Folder{"stories260K-bf16", DType::kBF16},
                                           Folder{"stories260K-f16", DType::kF16}),
                         [](const auto& info) { return std::string(DTypeName(info.param.dtype)); });

// The BF16 / F16 files were made by rounding the F32 weights to nearest even; rounding the F32
// file here must reproduce them bit for bit.
TEST(Stories260KLoaderTest, HalfFilesAreTheF32FileRounded) {
  CORVID_SKIP_WITHOUT_STORIES();
  ModelConfig c32, c16, cb16;
  auto f32 = OpenStories("stories260K", &c32);
  auto f16 = OpenStories("stories260K-f16", &c16);
  auto bf16 = OpenStories("stories260K-bf16", &cb16);
  ASSERT_TRUE(f32 && f16 && bf16);
  int64_t compared = 0;
  for (const std::string& name : f32->Names()) {
    const TensorView* a = f32->Find(name);
    const TensorView* h = f16->Find(name);
    const TensorView* b = bf16->Find(name);
    ASSERT_TRUE(h && b) << name;
    ASSERT_EQ(a->numel(), h->numel());
    ASSERT_EQ(a->numel(), b->numel());
    const auto* av = static_cast<const float*>(a->data);
    const auto* hv = static_cast<const uint16_t*>(h->data);
    const auto* bv = static_cast<const uint16_t*>(b->data);
    for (int64_t i = 0; i < a->numel(); ++i) {
      ASSERT_EQ(F32ToBf16(av[i]), bv[i]) << name << "[" << i << "] = " << av[i];
      ASSERT_EQ(F32ToF16(av[i]), hv[i]) << name << "[" << i << "] = " << av[i];
    }
    compared += a->numel();
  }
  EXPECT_EQ(compared, c32.NumParameters());
}

// stories260K split into three shards by the writer, with an index, loads back byte-identical.
TEST(Stories260KLoaderTest, ShardedRoundTripThroughWriter) {
  CORVID_SKIP_WITHOUT_STORIES();
  ModelConfig config;
  auto original = OpenStories("stories260K", &config);
  ASSERT_NE(original, nullptr);
  ScratchDir dir;
  std::filesystem::copy_file(ModelsDir() + "/stories260K/config.json", dir / "config.json");
  const std::vector<std::string> names = original->Names();
  std::vector<std::map<std::string, TensorView>> shards(3);
  nlohmann::json index = {{"metadata", {{"total_size", 0}}},
                          {"weight_map", nlohmann::json::object()}};
  for (size_t i = 0; i < names.size(); ++i) {
    shards[i % 3][names[i]] = *original->Find(names[i]);
    index["weight_map"][names[i]] =
        "model-0000" + std::to_string(i % 3 + 1) + "-of-00003.safetensors";
  }
  for (int s = 0; s < 3; ++s) {
    const std::string file = "model-0000" + std::to_string(s + 1) + "-of-00003.safetensors";
    ASSERT_TRUE(WriteSafetensors(dir / file, shards[s]).ok());
  }
  WriteFileBytes(dir / "model.safetensors.index.json", index.dump());
  auto reread = ModelConfig::FromDir(dir.path());
  ASSERT_TRUE(reread.ok()) << reread.status();
  auto store = WeightStore::Open(dir.path(), *reread);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->Names(), names);
  for (const std::string& name : names) {
    const TensorView* a = original->Find(name);
    const TensorView* b = (*store)->Find(name);
    ASSERT_NE(b, nullptr) << name;
    EXPECT_EQ(a->shape, b->shape);
    ASSERT_EQ(a->nbytes, b->nbytes);
    EXPECT_EQ(std::memcmp(a->data, b->data, a->nbytes), 0) << name;
  }
}

ModelConfig SmallConfig(bool qwen2) {
  auto c = ModelConfig::FromJson(
      std::string(R"({"architectures": [")") + (qwen2 ? "Qwen2ForCausalLM" : "LlamaForCausalLM") +
          R"("], "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2,
          "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 40,
          "max_position_embeddings": 64})",
      "");
  EXPECT_TRUE(c.ok()) << c.status();
  return *c;
}

std::string AllBytes(const WeightStore& s) {
  std::string out;
  for (const std::string& n : s.Names()) {
    const TensorView* v = s.Find(n);
    out.append(static_cast<const char*>(v->data), v->nbytes);
  }
  return out;
}

TEST(DummyWeightsLoaderTest, SameSeedSameBytesDifferentSeedDifferentBytes) {
  const ModelConfig c = SmallConfig(false);
  for (DType t : {DType::kF32, DType::kBF16, DType::kF16}) {
    auto a = WeightStore::Dummy(c, t, 42);
    auto b = WeightStore::Dummy(c, t, 42);
    auto d = WeightStore::Dummy(c, t, 43);
    ASSERT_TRUE(a.ok() && b.ok() && d.ok());
    EXPECT_EQ(AllBytes(**a), AllBytes(**b)) << DTypeName(t);
    EXPECT_NE(AllBytes(**a), AllBytes(**d)) << DTypeName(t);
    EXPECT_EQ((*a)->Names().size(), ExpectedTensors(c).size());
  }
  EXPECT_FALSE(WeightStore::Dummy(c, DType::kI32, 1).ok());
}

// Each element depends only on (seed, name, index): the thread count cannot change the bytes,
// and the half-precision dummies are the F32 ones rounded.
TEST(DummyWeightsLoaderTest, ThreadCountDoesNotChangeValues) {
  ModelConfig c = SmallConfig(false);
  c.vocab_size = 4096;  // a 131072-element embedding takes the parallel path
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  auto one = WeightStore::Dummy(c, DType::kF32, 9);
  omp_set_num_threads(4);
  auto four = WeightStore::Dummy(c, DType::kF32, 9);
  auto bf16 = WeightStore::Dummy(c, DType::kBF16, 9);
  omp_set_num_threads(saved);
  ASSERT_TRUE(one.ok() && four.ok() && bf16.ok());
  EXPECT_EQ(AllBytes(**one), AllBytes(**four));
  const TensorView* f = (*one)->Find("model.embed_tokens.weight");
  const TensorView* b = (*bf16)->Find("model.embed_tokens.weight");
  for (int64_t i = 0; i < f->numel(); ++i) {
    ASSERT_EQ(F32ToBf16(static_cast<const float*>(f->data)[i]),
              static_cast<const uint16_t*>(b->data)[i])
        << i;
  }
}

TEST(DummyWeightsLoaderTest, ValuesHaveTrainedModelScale) {
  const ModelConfig c = SmallConfig(true);  // qwen2: q/k/v biases too
  auto store = WeightStore::Dummy(c, DType::kF32, 7);
  ASSERT_TRUE(store.ok());
  ASSERT_NE((*store)->Find("model.layers.1.self_attn.v_proj.bias"), nullptr);
  EXPECT_EQ((*store)->Find("model.layers.1.self_attn.o_proj.bias"), nullptr);
  ASSERT_NE((*store)->Find("lm_head.weight"), nullptr);  // untied by default
  for (const std::string& name : (*store)->Names()) {
    const TensorView* v = (*store)->Find(name);
    const auto* x = static_cast<const float*>(v->data);
    const bool norm = name.find("norm") != std::string::npos;
    const int64_t fan_in = v->shape.size() == 2 ? v->shape[1] : c.hidden_size;
    const double a = 1.0 / std::sqrt(static_cast<double>(fan_in));
    double sum = 0, sum_sq = 0;
    std::set<float> distinct;
    for (int64_t i = 0; i < v->numel(); ++i) {
      if (norm) {
        ASSERT_EQ(x[i], 1.0f) << name;
      } else {
        ASSERT_LE(std::fabs(x[i]), a) << name;
      }
      sum += x[i];
      sum_sq += x[i] * x[i];
      distinct.insert(x[i]);
    }
    if (norm || v->numel() < 256) continue;
    // U(-a, a): mean 0, variance a^2 / 3.
    const double n = static_cast<double>(v->numel());
    EXPECT_NEAR(sum / n, 0.0, 4 * a / std::sqrt(3 * n)) << name;
    EXPECT_NEAR(sum_sq / n, a * a / 3, 0.15 * a * a / 3) << name;
    EXPECT_GT(distinct.size(), static_cast<size_t>(n * 0.9)) << name;
  }
}

}  // namespace
}  // namespace corvid
