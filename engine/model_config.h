// Model hyper-parameters read from a Hugging Face `config.json` (+ `generation_config.json`).
#ifndef CORVID_ENGINE_MODEL_CONFIG_H_
#define CORVID_ENGINE_MODEL_CONFIG_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/tensor.h"

namespace corvid {

// `rope_scaling` of type "llama3" (Llama 3.1+); other types are rejected at load.
struct RopeScaling {
  std::string type;  // "llama3"
  double factor = 1.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int original_max_position_embeddings = 8192;
};

struct ModelConfig {
  std::string architecture;  // e.g. "LlamaForCausalLM"
  std::string model_type;    // "llama", "mistral" or "qwen2"
  int hidden_size = 0;
  int intermediate_size = 0;
  int num_layers = 0;
  int num_heads = 0;
  int num_kv_heads = 0;
  int head_dim = 0;  // hidden_size / num_heads unless given
  int vocab_size = 0;
  int max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  std::optional<RopeScaling> rope_scaling;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // qwen2: q/k/v projections carry a bias
  DType dtype = DType::kF32;    // torch_dtype; the weights' own dtypes win
  int bos_token_id = -1;
  std::vector<int> eos_token_ids;  // generation_config.json wins over config.json

  // Parses config.json text; `generation_config_json` may be empty.
  static absl::StatusOr<ModelConfig> FromJson(const std::string& config_json,
                                              const std::string& generation_config_json);
  // Reads `dir/config.json` and, when present, `dir/generation_config.json`.
  static absl::StatusOr<ModelConfig> FromDir(const std::string& dir);

  int q_dim() const { return num_heads * head_dim; }
  int kv_dim() const { return num_kv_heads * head_dim; }
  // Parameter count of the dense model (embedding + layers + head when untied).
  int64_t NumParameters() const;
};

}  // namespace corvid

#endif  // CORVID_ENGINE_MODEL_CONFIG_H_
