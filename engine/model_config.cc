// Parsing of Hugging Face `config.json` / `generation_config.json` for Llama-family models.
// Every error is INVALID_ARGUMENT and names the file and key, so that a user pointing corvid at
// the wrong folder learns what to fix without reading code.
#include "engine/model_config.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/status_macros.h"
#include "nlohmann/json.hpp"

namespace corvid {
namespace {

using Json = nlohmann::json;

struct Arch {
  const char* architecture;
  const char* model_type;
};
constexpr Arch kArchs[] = {{"LlamaForCausalLM", "llama"},
                           {"MistralForCausalLM", "mistral"},
                           {"Qwen2ForCausalLM", "qwen2"}};

absl::Status Invalid(const std::string& file, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(file, ": ", what));
}

absl::StatusOr<Json> ParseObject(const std::string& text, const std::string& file) {
  Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Invalid(file, "not valid JSON");
  if (!j.is_object()) return Invalid(file, "top level is not a JSON object");
  return j;
}

// Reads an integer key; `required` decides whether absence is an error. Values must be > 0.
absl::Status ReadPositiveInt(const Json& j, const char* key, const std::string& file, bool required,
                             int* out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (required) return Invalid(file, absl::StrCat("missing required key '", key, "'"));
    return absl::OkStatus();
  }
  if (!it->is_number_integer() || it->get<int64_t>() <= 0 ||
      it->get<int64_t>() > (int64_t{1} << 30)) {
    return Invalid(file,
                   absl::StrCat("key '", key, "' must be a positive integer, got ", it->dump()));
  }
  *out = static_cast<int>(it->get<int64_t>());
  return absl::OkStatus();
}

absl::Status ReadNumber(const Json& j, const char* key, const std::string& file, double* out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_number() || it->get<double>() <= 0) {
    return Invalid(file,
                   absl::StrCat("key '", key, "' must be a positive number, got ", it->dump()));
  }
  *out = it->get<double>();
  return absl::OkStatus();
}

absl::Status ReadBool(const Json& j, const char* key, const std::string& file, bool* out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_boolean()) {
    return Invalid(file, absl::StrCat("key '", key, "' must be true or false"));
  }
  *out = it->get<bool>();
  return absl::OkStatus();
}

absl::Status ReadArchitecture(const Json& j, const std::string& file, ModelConfig* c) {
  auto arch = j.find("architectures");
  auto type = j.find("model_type");
  if (arch == j.end() && type == j.end()) {
    return Invalid(file, "missing required key 'architectures'");
  }
  if (arch != j.end()) {
    if (!arch->is_array() || arch->empty() || !(*arch)[0].is_string()) {
      return Invalid(file, "key 'architectures' must be a non-empty list of strings");
    }
    c->architecture = (*arch)[0].get<std::string>();
  }
  if (type != j.end()) {
    if (!type->is_string()) return Invalid(file, "key 'model_type' must be a string");
    c->model_type = type->get<std::string>();
  }
  std::vector<std::string> known;
  for (const Arch& a : kArchs) {
    known.push_back(a.architecture);
    bool arch_ok = c->architecture.empty() || c->architecture == a.architecture;
    bool type_ok = c->model_type.empty() || c->model_type == a.model_type;
    if (arch_ok && type_ok) {
      c->architecture = a.architecture;
      c->model_type = a.model_type;
      return absl::OkStatus();
    }
  }
  return Invalid(file,
                 absl::StrCat("unsupported architecture '", c->architecture, "' (model_type '",
                              c->model_type, "'); supported: ", absl::StrJoin(known, ", ")));
}

absl::Status ReadRopeScaling(const Json& j, const std::string& file, ModelConfig* c) {
  auto it = j.find("rope_scaling");
  if (it == j.end() || it->is_null()) return absl::OkStatus();
  if (!it->is_object()) return Invalid(file, "key 'rope_scaling' must be an object or null");
  std::string type;
  for (const char* key : {"rope_type", "type"}) {
    auto t = it->find(key);
    if (t != it->end() && t->is_string()) type = t->get<std::string>();
    if (!type.empty()) break;
  }
  // transformers writes {"rope_type": "default"} for plain RoPE; it means no scaling.
  if (type == "default") return absl::OkStatus();
  if (type != "llama3") {
    return Invalid(file, absl::StrCat("unsupported rope_scaling type '", type,
                                      "' (key 'rope_scaling.rope_type'); supported: llama3"));
  }
  RopeScaling rs;
  rs.type = type;
  const std::string sub = file + " rope_scaling";
  for (const char* key :
       {"factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"}) {
    if (!it->contains(key)) {
      return Invalid(file, absl::StrCat("missing required key 'rope_scaling.", key, "'"));
    }
  }
  RETURN_IF_ERROR(ReadNumber(*it, "factor", sub, &rs.factor));
  RETURN_IF_ERROR(ReadNumber(*it, "low_freq_factor", sub, &rs.low_freq_factor));
  RETURN_IF_ERROR(ReadNumber(*it, "high_freq_factor", sub, &rs.high_freq_factor));
  RETURN_IF_ERROR(ReadPositiveInt(*it, "original_max_position_embeddings", sub, false,
                                  &rs.original_max_position_embeddings));
  if (rs.high_freq_factor <= rs.low_freq_factor) {
    return Invalid(sub, "high_freq_factor must exceed low_freq_factor");
  }
  c->rope_scaling = rs;
  return absl::OkStatus();
}

absl::Status ReadDType(const Json& j, const std::string& file, ModelConfig* c) {
  // Newer transformers write "dtype", older ones "torch_dtype".
  for (const char* key : {"torch_dtype", "dtype"}) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) continue;
    const std::string s = it->is_string() ? it->get<std::string>() : it->dump();
    if (s == "float32") {
      c->dtype = DType::kF32;
    } else if (s == "float16") {
      c->dtype = DType::kF16;
    } else if (s == "bfloat16") {
      c->dtype = DType::kBF16;
    } else {
      return Invalid(file, absl::StrCat("key '", key, "' has unsupported value ", s,
                                        " (float32, float16 or bfloat16)"));
    }
    return absl::OkStatus();
  }
  return absl::OkStatus();
}

// bos/eos may be an int, a list of ints (eos) or null.
absl::Status ReadSpecialTokens(const Json& j, const std::string& file, ModelConfig* c) {
  auto bos = j.find("bos_token_id");
  if (bos != j.end() && !bos->is_null()) {
    if (!bos->is_number_integer()) return Invalid(file, "key 'bos_token_id' must be an integer");
    c->bos_token_id = bos->get<int>();
  }
  auto eos = j.find("eos_token_id");
  if (eos == j.end() || eos->is_null()) return absl::OkStatus();
  std::vector<int> ids;
  if (eos->is_number_integer()) {
    ids.push_back(eos->get<int>());
  } else if (eos->is_array()) {
    for (const Json& e : *eos) {
      if (!e.is_number_integer()) {
        return Invalid(file, "key 'eos_token_id' must be an integer or a list of integers");
      }
      ids.push_back(e.get<int>());
    }
  } else {
    return Invalid(file, "key 'eos_token_id' must be an integer or a list of integers");
  }
  c->eos_token_ids = ids;
  return absl::OkStatus();
}

absl::Status ReadShape(const Json& j, const std::string& file, ModelConfig* c) {
  RETURN_IF_ERROR(ReadPositiveInt(j, "hidden_size", file, true, &c->hidden_size));
  RETURN_IF_ERROR(ReadPositiveInt(j, "intermediate_size", file, true, &c->intermediate_size));
  RETURN_IF_ERROR(ReadPositiveInt(j, "num_hidden_layers", file, true, &c->num_layers));
  RETURN_IF_ERROR(ReadPositiveInt(j, "num_attention_heads", file, true, &c->num_heads));
  RETURN_IF_ERROR(ReadPositiveInt(j, "vocab_size", file, true, &c->vocab_size));
  RETURN_IF_ERROR(
      ReadPositiveInt(j, "max_position_embeddings", file, true, &c->max_position_embeddings));
  c->num_kv_heads = c->num_heads;
  RETURN_IF_ERROR(ReadPositiveInt(j, "num_key_value_heads", file, false, &c->num_kv_heads));
  if (c->num_heads % c->num_kv_heads != 0) {
    return Invalid(file, "num_attention_heads must be a multiple of num_key_value_heads");
  }
  c->head_dim = 0;
  RETURN_IF_ERROR(ReadPositiveInt(j, "head_dim", file, false, &c->head_dim));
  if (c->head_dim == 0) {
    if (c->hidden_size % c->num_heads != 0) {
      return Invalid(file,
                     "hidden_size is not a multiple of num_attention_heads and no "
                     "'head_dim' is given");
    }
    c->head_dim = c->hidden_size / c->num_heads;
  }
  if (c->head_dim % 2 != 0) return Invalid(file, "key 'head_dim' must be even for RoPE");
  return absl::OkStatus();
}

// Sliding-window attention (Mistral 7B v0.1) is not implemented; up to the window it is the
// same as full attention, so the usable context is capped there instead of computing wrongly.
absl::Status ApplySlidingWindow(const Json& j, const std::string& file, ModelConfig* c) {
  auto use = j.find("use_sliding_window");  // Qwen2 carries a window it does not use
  if (use != j.end() && use->is_boolean() && !use->get<bool>()) return absl::OkStatus();
  int window = 0;
  RETURN_IF_ERROR(ReadPositiveInt(j, "sliding_window", file, false, &window));
  if (window > 0 && window < c->max_position_embeddings) c->max_position_embeddings = window;
  return absl::OkStatus();
}

// Features that change the math and that corvid does not implement are refused, not ignored.
absl::Status RejectUnsupported(const Json& j, const std::string& file) {
  auto act = j.find("hidden_act");
  if (act != j.end() && !(act->is_string() && act->get<std::string>() == "silu")) {
    return Invalid(file,
                   absl::StrCat("unsupported key 'hidden_act' = ", act->dump(), " (only silu)"));
  }
  auto mlp_bias = j.find("mlp_bias");
  if (mlp_bias != j.end() && mlp_bias->is_boolean() && mlp_bias->get<bool>()) {
    return Invalid(file, "unsupported key 'mlp_bias' = true");
  }
  return absl::OkStatus();
}

absl::StatusOr<ModelConfig> Parse(const std::string& config_json, const std::string& config_file,
                                  const std::string& gen_json, const std::string& gen_file) {
  ASSIGN_OR_RETURN(Json j, ParseObject(config_json, config_file));
  ModelConfig c;
  RETURN_IF_ERROR(ReadArchitecture(j, config_file, &c));
  RETURN_IF_ERROR(RejectUnsupported(j, config_file));
  RETURN_IF_ERROR(ReadShape(j, config_file, &c));
  RETURN_IF_ERROR(ApplySlidingWindow(j, config_file, &c));
  RETURN_IF_ERROR(ReadNumber(j, "rms_norm_eps", config_file, &c.rms_norm_eps));
  RETURN_IF_ERROR(ReadNumber(j, "rope_theta", config_file, &c.rope_theta));
  RETURN_IF_ERROR(ReadRopeScaling(j, config_file, &c));
  RETURN_IF_ERROR(ReadBool(j, "tie_word_embeddings", config_file, &c.tie_word_embeddings));
  c.attention_bias = c.model_type == "qwen2";  // Qwen2 always has q/k/v biases
  RETURN_IF_ERROR(ReadBool(j, "attention_bias", config_file, &c.attention_bias));
  RETURN_IF_ERROR(ReadDType(j, config_file, &c));
  RETURN_IF_ERROR(ReadSpecialTokens(j, config_file, &c));
  if (!gen_json.empty()) {
    ASSIGN_OR_RETURN(Json g, ParseObject(gen_json, gen_file));
    RETURN_IF_ERROR(ReadSpecialTokens(g, gen_file, &c));
  }
  return c;
}

// 0 = read, 1 = absent, 2 = unreadable.
int ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return 1;
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return 2;
  *out = ss.str();
  return 0;
}

}  // namespace

absl::StatusOr<ModelConfig> ModelConfig::FromJson(const std::string& config_json,
                                                  const std::string& generation_config_json) {
  return Parse(config_json, "config.json", generation_config_json, "generation_config.json");
}

absl::StatusOr<ModelConfig> ModelConfig::FromDir(const std::string& dir) {
  const std::string config_path = dir + "/config.json";
  const std::string gen_path = dir + "/generation_config.json";
  std::string config_json, gen_json;
  int rc = ReadFile(config_path, &config_json);
  if (rc == 1) return absl::NotFoundError(absl::StrCat(config_path, ": cannot open"));
  if (rc == 2) return absl::DataLossError(absl::StrCat(config_path, ": read error"));
  rc = ReadFile(gen_path, &gen_json);
  if (rc == 2) return absl::DataLossError(absl::StrCat(gen_path, ": read error"));
  return Parse(config_json, config_path, gen_json, gen_path);
}

int64_t ModelConfig::NumParameters() const {
  const int64_t h = hidden_size, v = vocab_size, ff = intermediate_size;
  const int64_t q = q_dim(), kv = kv_dim();
  int64_t layer = 2 * h                 // two RMSNorm weights
                  + h * q + 2 * h * kv  // q, k, v projections
                  + q * h               // o projection
                  + 3 * h * ff;         // gate, up, down
  if (attention_bias) {
    layer += q + 2 * kv;
    if (model_type == "llama") layer += h;  // Llama's attention_bias also covers o_proj
  }
  int64_t total = v * h + num_layers * layer + h;
  if (!tie_word_embeddings) total += v * h;
  return total;
}

}  // namespace corvid
