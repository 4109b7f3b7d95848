// config.json / generation_config.json parsing, presets and parameter counts.
#include "engine/model_config.h"

#include <string>

#include "engine/checkpoint_writer.h"
#include "engine/model_presets.h"
#include "engine/weights.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/engine/loader_test_util.h"

namespace corvid {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::json;

Json BaseConfig() {
  return Json{{"architectures", {"LlamaForCausalLM"}},
              {"model_type", "llama"},
              {"hidden_size", 64},
              {"intermediate_size", 128},
              {"num_hidden_layers", 2},
              {"num_attention_heads", 8},
              {"vocab_size", 100},
              {"max_position_embeddings", 256}};
}

absl::StatusOr<ModelConfig> Parse(const Json& j, const std::string& gen = "") {
  return ModelConfig::FromJson(j.dump(), gen);
}

void ExpectInvalid(const absl::StatusOr<ModelConfig>& c, const std::string& needle) {
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << c.status();
  EXPECT_THAT(std::string(c.status().message()), HasSubstr(needle));
}

TEST(ModelConfigTest, Stories260KFromDir) {
  CORVID_SKIP_WITHOUT_STORIES();
  auto c = ModelConfig::FromDir(testing_util::ModelsDir() + "/stories260K");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->architecture, "LlamaForCausalLM");
  EXPECT_EQ(c->model_type, "llama");
  EXPECT_EQ(c->hidden_size, 64);
  EXPECT_EQ(c->intermediate_size, 172);
  EXPECT_EQ(c->num_layers, 5);
  EXPECT_EQ(c->num_heads, 8);
  EXPECT_EQ(c->num_kv_heads, 4);
  EXPECT_EQ(c->head_dim, 8);
  EXPECT_EQ(c->kv_dim(), 32);
  EXPECT_EQ(c->vocab_size, 512);
  EXPECT_EQ(c->max_position_embeddings, 512);
  EXPECT_DOUBLE_EQ(c->rms_norm_eps, 1e-5);
  EXPECT_DOUBLE_EQ(c->rope_theta, 10000.0);
  EXPECT_FALSE(c->rope_scaling.has_value());
  EXPECT_TRUE(c->tie_word_embeddings);
  EXPECT_FALSE(c->attention_bias);
  EXPECT_EQ(c->dtype, DType::kF32);
  EXPECT_EQ(c->bos_token_id, 1);
  EXPECT_EQ(c->eos_token_ids, std::vector<int>{2});
  EXPECT_EQ(c->NumParameters(), 260032);  // the model card's figure
  auto bf16 = ModelConfig::FromDir(testing_util::ModelsDir() + "/stories260K-bf16");
  ASSERT_TRUE(bf16.ok());
  EXPECT_EQ(bf16->dtype, DType::kBF16);
}

TEST(ModelConfigTest, DefaultsForHeadDimAndKvHeads) {
  auto c = Parse(BaseConfig());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->head_dim, 8);
  EXPECT_EQ(c->num_kv_heads, 8);
  EXPECT_FALSE(c->tie_word_embeddings);
  EXPECT_EQ(c->bos_token_id, -1);
  EXPECT_TRUE(c->eos_token_ids.empty());
  Json j = BaseConfig();
  j["head_dim"] = 16;  // explicit head_dim wins (q_dim != hidden_size)
  j["num_key_value_heads"] = 2;
  c = Parse(j);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->q_dim(), 128);
  EXPECT_EQ(c->kv_dim(), 32);
  EXPECT_EQ(ExpectedTensors(*c).at("model.layers.0.self_attn.o_proj.weight"),
            (std::vector<int64_t>{64, 128}));
}

TEST(ModelConfigTest, Qwen2HasAttentionBiasUnlessSaidOtherwise) {
  Json j = BaseConfig();
  j["architectures"] = {"Qwen2ForCausalLM"};
  j["model_type"] = "qwen2";
  auto c = Parse(j);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->attention_bias);
  const auto t = ExpectedTensors(*c);
  EXPECT_EQ(t.at("model.layers.1.self_attn.k_proj.bias"), std::vector<int64_t>{64});
  EXPECT_EQ(t.count("model.layers.1.self_attn.o_proj.bias"), 0u);
  int64_t n = 0;
  for (const auto& [name, shape] : t) n += TensorView{DType::kF32, shape, nullptr, 0}.numel();
  EXPECT_EQ(n, c->NumParameters());
  j["attention_bias"] = false;
  c = Parse(j);
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->attention_bias);
  // Llama with an explicit attention_bias: q/k/v/o all carry one.
  Json l = BaseConfig();
  l["attention_bias"] = true;
  c = Parse(l);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->attention_bias);
  EXPECT_EQ(ExpectedTensors(*c).count("model.layers.0.self_attn.o_proj.bias"), 1u);
}

TEST(ModelConfigTest, MistralIsAcceptedAndItsSlidingWindowCapsTheContext) {
  Json j = BaseConfig();
  j["architectures"] = {"MistralForCausalLM"};
  j["model_type"] = "mistral";
  j["sliding_window"] = nullptr;  // Mistral v0.2+: full attention
  auto c = Parse(j);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->model_type, "mistral");
  EXPECT_FALSE(c->attention_bias);
  EXPECT_EQ(c->max_position_embeddings, 256);
  j["sliding_window"] = 128;  // v0.1: only the window's worth of context is exact
  c = Parse(j);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->max_position_embeddings, 128);
  Json q = BaseConfig();
  q["architectures"] = {"Qwen2ForCausalLM"};
  q["model_type"] = "qwen2";
  q["sliding_window"] = 64;
  q["use_sliding_window"] = false;
  c = Parse(q);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->max_position_embeddings, 256);
}

TEST(ModelConfigTest, Llama3RopeScaling) {
  Json j = BaseConfig();
  j["rope_scaling"] = {{"rope_type", "llama3"},
                       {"factor", 32.0},
                       {"low_freq_factor", 1.0},
                       {"high_freq_factor", 4.0},
                       {"original_max_position_embeddings", 8192}};
  j["rope_theta"] = 500000.0;
  auto c = Parse(j);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(c->rope_scaling.has_value());
  EXPECT_EQ(c->rope_scaling->type, "llama3");
  EXPECT_DOUBLE_EQ(c->rope_scaling->factor, 32.0);
  EXPECT_DOUBLE_EQ(c->rope_scaling->low_freq_factor, 1.0);
  EXPECT_DOUBLE_EQ(c->rope_scaling->high_freq_factor, 4.0);
  EXPECT_EQ(c->rope_scaling->original_max_position_embeddings, 8192);
  EXPECT_DOUBLE_EQ(c->rope_theta, 500000.0);
  // The older spelling "type" works too.
  j["rope_scaling"] = {{"type", "llama3"},
                       {"factor", 8.0},
                       {"low_freq_factor", 1.0},
                       {"high_freq_factor", 4.0},
                       {"original_max_position_embeddings", 8192}};
  c = Parse(j);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_DOUBLE_EQ(c->rope_scaling->factor, 8.0);
}

TEST(ModelConfigTest, UnsupportedRopeTypeIsAClearError) {
  Json j = BaseConfig();
  for (const char* type : {"linear", "dynamic", "yarn", "longrope"}) {
    j["rope_scaling"] = {{"type", type}, {"factor", 2.0}};
    ExpectInvalid(Parse(j), type);
    ExpectInvalid(Parse(j), "rope_scaling");
  }
  j["rope_scaling"] = "llama3";
  ExpectInvalid(Parse(j), "rope_scaling");
  j["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}};
  ExpectInvalid(Parse(j), "rope_scaling.low_freq_factor");
}

TEST(ModelConfigTest, MissingRequiredKeysAreNamed) {
  for (const char* key : {"hidden_size", "intermediate_size", "num_hidden_layers",
                          "num_attention_heads", "vocab_size", "max_position_embeddings"}) {
    Json j = BaseConfig();
    j.erase(key);
    ExpectInvalid(Parse(j), std::string("'") + key + "'");
    ExpectInvalid(Parse(j), "config.json");
  }
  Json j = BaseConfig();
  j.erase("architectures");
  j.erase("model_type");
  ExpectInvalid(Parse(j), "architectures");
}

TEST(ModelConfigTest, FromDirNamesTheFile) {
  testing_util::ScratchDir dir;
  Json j = BaseConfig();
  j.erase("vocab_size");
  testing_util::WriteFileBytes(dir / "config.json", j.dump());
  auto c = ModelConfig::FromDir(dir.path());
  ExpectInvalid(c, dir / "config.json");
  ExpectInvalid(c, "vocab_size");
  EXPECT_EQ(ModelConfig::FromDir(dir / "absent").status().code(), absl::StatusCode::kNotFound);
  testing_util::WriteFileBytes(dir / "config.json", BaseConfig().dump());
  testing_util::WriteFileBytes(dir / "generation_config.json", "{\"eos_token_id\": \"x\"}");
  ExpectInvalid(ModelConfig::FromDir(dir.path()), dir / "generation_config.json");
}

TEST(ModelConfigTest, BadValuesAreRefused) {
  Json j = BaseConfig();
  j["hidden_size"] = -64;
  ExpectInvalid(Parse(j), "hidden_size");
  j = BaseConfig();
  j["num_key_value_heads"] = 3;  // 8 heads are not a multiple of 3
  ExpectInvalid(Parse(j), "num_key_value_heads");
  j = BaseConfig();
  j["hidden_size"] = 60;  // not divisible by 8 heads, no head_dim
  ExpectInvalid(Parse(j), "head_dim");
  j = BaseConfig();
  j["hidden_act"] = "gelu";
  ExpectInvalid(Parse(j), "hidden_act");
  j = BaseConfig();
  j["torch_dtype"] = "float64";
  ExpectInvalid(Parse(j), "torch_dtype");
  j = BaseConfig();
  j["tie_word_embeddings"] = "yes";
  ExpectInvalid(Parse(j), "tie_word_embeddings");
  ExpectInvalid(ModelConfig::FromJson("{\"hidden_size\": ", ""), "not valid JSON");
  ExpectInvalid(ModelConfig::FromJson("[1]", ""), "object");
}

TEST(ModelConfigTest, UnsupportedArchitecture) {
  Json j = BaseConfig();
  j["architectures"] = {"GPTNeoXForCausalLM"};
  j["model_type"] = "gpt_neox";
  ExpectInvalid(Parse(j), "GPTNeoXForCausalLM");
  j["architectures"] = {"LlamaForCausalLM"};  // inconsistent model_type
  j["model_type"] = "qwen2";
  ExpectInvalid(Parse(j), "unsupported architecture");
}

TEST(ModelConfigTest, GenerationConfigOverridesBosEosAndTakesLists) {
  Json j = BaseConfig();
  j["bos_token_id"] = 5;
  j["eos_token_id"] = 6;
  auto c = Parse(j);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->bos_token_id, 5);
  EXPECT_EQ(c->eos_token_ids, std::vector<int>{6});
  c = Parse(j, R"({"bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009]})");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->bos_token_id, 128000);
  EXPECT_EQ(c->eos_token_ids, (std::vector<int>{128001, 128008, 128009}));
  j["eos_token_id"] = {7, 8};
  c = Parse(j, "{}");  // empty generation config keeps config.json's values
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->eos_token_ids, (std::vector<int>{7, 8}));
  ExpectInvalid(Parse(j, "{\"eos_token_id\": [1, \"x\"]}"), "eos_token_id");
  ExpectInvalid(Parse(j, "not json"), "generation_config.json");
}

// Every preset survives config.json serialization, and its parameter count matches both its
// tensor list and the published size of the model it is named after.
TEST(ModelConfigTest, PresetsRoundTripAndMatchPublishedSizes) {
  const std::map<std::string, double> published = {{"llama2c-15m", 15.2e6},
                                                   {"llama-3.2-1b", 1.236e9},
                                                   {"llama-3-8b", 8.03e9},
                                                   {"llama-3-70b", 70.55e9}};
  EXPECT_THAT(PresetNames(), ::testing::Contains("tiny"));
  for (const std::string& name : PresetNames()) {
    SCOPED_TRACE(name);
    auto p = PresetConfig(name);
    ASSERT_TRUE(p.ok()) << p.status();
    auto back = ModelConfig::FromJson(ModelConfigToJson(*p), "");
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(back->hidden_size, p->hidden_size);
    EXPECT_EQ(back->num_kv_heads, p->num_kv_heads);
    EXPECT_EQ(back->head_dim, p->head_dim);
    EXPECT_EQ(back->max_position_embeddings, p->max_position_embeddings);
    EXPECT_EQ(back->tie_word_embeddings, p->tie_word_embeddings);
    EXPECT_EQ(back->rope_scaling.has_value(), p->rope_scaling.has_value());
    EXPECT_EQ(back->eos_token_ids, p->eos_token_ids);
    EXPECT_EQ(back->dtype, p->dtype);
    int64_t n = 0;
    for (const auto& [t, shape] : ExpectedTensors(*p)) {
      n += TensorView{DType::kF32, shape, nullptr, 0}.numel();
    }
    EXPECT_EQ(n, p->NumParameters());
    if (published.count(name)) {
      EXPECT_NEAR(p->NumParameters(), published.at(name), published.at(name) * 0.01);
    }
  }
  auto l32 = PresetConfig("llama-3.2-1b");
  ASSERT_TRUE(l32->rope_scaling.has_value());
  EXPECT_DOUBLE_EQ(l32->rope_scaling->factor, 32.0);
  EXPECT_EQ(PresetConfig("gpt-5").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace corvid
