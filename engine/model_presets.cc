#include "engine/model_presets.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace corvid {
namespace {

ModelConfig Llama(int hidden, int ffn, int layers, int heads, int kv_heads, int vocab, int ctx) {
  ModelConfig c;
  c.architecture = "LlamaForCausalLM";
  c.model_type = "llama";
  c.hidden_size = hidden;
  c.intermediate_size = ffn;
  c.num_layers = layers;
  c.num_heads = heads;
  c.num_kv_heads = kv_heads;
  c.head_dim = hidden / heads;
  c.vocab_size = vocab;
  c.max_position_embeddings = ctx;
  c.rms_norm_eps = 1e-5;
  c.rope_theta = 10000.0;
  return c;
}

// Llama 3: 128256-entry vocabulary, <|begin_of_text|> / <|end_of_text|>, bfloat16 release.
ModelConfig Llama3(int hidden, int ffn, int layers, int heads, int kv_heads, int ctx) {
  ModelConfig c = Llama(hidden, ffn, layers, heads, kv_heads, 128256, ctx);
  c.rope_theta = 500000.0;
  c.dtype = DType::kBF16;
  c.bos_token_id = 128000;
  c.eos_token_ids = {128001};
  return c;
}

ModelConfig Tiny() {
  // Small enough for CI; the vocabulary is the size of the tokenizer the checkpoint tool trains,
  // and lm_head is untied so that the untied path is exercised (stories260K covers tying).
  ModelConfig c = Llama(64, 176, 2, 4, 2, 512, 512);
  c.bos_token_id = 1;
  c.eos_token_ids = {2};
  return c;
}

ModelConfig Llama2c15M() {  // karpathy/tinyllamas stories15M (llama2.c), shared classifier
  ModelConfig c = Llama(288, 768, 6, 6, 6, 32000, 256);
  c.tie_word_embeddings = true;
  c.bos_token_id = 1;
  c.eos_token_ids = {2};
  return c;
}

ModelConfig Llama32_1B() {  // meta-llama/Llama-3.2-1B
  ModelConfig c = Llama3(2048, 8192, 16, 32, 8, 131072);
  RopeScaling rs;
  rs.type = "llama3";
  rs.factor = 32.0;
  rs.low_freq_factor = 1.0;
  rs.high_freq_factor = 4.0;
  rs.original_max_position_embeddings = 8192;
  c.rope_scaling = rs;
  c.tie_word_embeddings = true;
  return c;
}

struct Preset {
  const char* name;
  ModelConfig (*make)();
};

const Preset kPresets[] = {
    {"tiny", Tiny},
    {"llama2c-15m", Llama2c15M},
    {"llama-3.2-1b", Llama32_1B},
    {"llama-3-8b", [] { return Llama3(4096, 14336, 32, 32, 8, 8192); }},   // Meta-Llama-3-8B
    {"llama-3-70b", [] { return Llama3(8192, 28672, 80, 64, 8, 8192); }},  // Meta-Llama-3-70B
};

}  // namespace

absl::StatusOr<ModelConfig> PresetConfig(const std::string& name) {
  for (const Preset& p : kPresets) {
    if (name == p.name) return p.make();
  }
  return absl::NotFoundError(absl::StrCat("unknown model preset '", name,
                                          "'; known: ", absl::StrJoin(PresetNames(), ", ")));
}

std::vector<std::string> PresetNames() {
  std::vector<std::string> names;
  for (const Preset& p : kPresets) names.push_back(p.name);
  return names;
}

}  // namespace corvid
