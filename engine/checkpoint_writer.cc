#include "engine/checkpoint_writer.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "engine/dummy_weights.h"
#include "engine/safetensors_writer.h"
#include "engine/status_macros.h"
#include "engine/tokenizer_trainer.h"
#include "engine/weights.h"
#include "nlohmann/json.hpp"

namespace corvid {
namespace {

using Json = nlohmann::ordered_json;
namespace fs = std::filesystem;

const char* TorchDtype(DType t) {
  switch (t) {
    case DType::kF16:
      return "float16";
    case DType::kBF16:
      return "bfloat16";
    default:
      return "float32";
  }
}

Json EosJson(const std::vector<int>& ids) {
  if (ids.size() == 1) return ids[0];
  return Json(ids);
}

absl::Status WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat(path, ": write failed"));
  return absl::OkStatus();
}

std::string GenerationConfigJson(const ModelConfig& c) {
  Json j;
  j["_from_model_config"] = true;
  if (c.bos_token_id >= 0) j["bos_token_id"] = c.bos_token_id;
  if (!c.eos_token_ids.empty()) j["eos_token_id"] = EosJson(c.eos_token_ids);
  return j.dump(2) + "\n";
}

absl::Status CheckParameterLimit(const ModelConfig& config) {
  const int64_t params = config.NumParameters();
  if (params > kMaxCheckpointParameters) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "a %.1fB-parameter checkpoint is too large to write (limit %.0fB); use dummy weights "
        "(WeightStore::Dummy) for this model instead",
        params / 1e9, kMaxCheckpointParameters / 1e9));
  }
  return absl::OkStatus();
}

absl::Status CheckDiskSpace(const ModelConfig& config, const std::string& dir, DType dtype) {
  const int64_t params = config.NumParameters();
  const uint64_t need = static_cast<uint64_t>(params) * DTypeSize(dtype) + (64ull << 20);
  std::error_code ec;
  const fs::space_info space = fs::space(dir, ec);
  if (!ec && space.available < need) {
    return absl::ResourceExhaustedError(
        absl::StrFormat("%s: the checkpoint needs %.1f GB but only %.1f GB are free", dir,
                        need / 1e9, space.available / 1e9));
  }
  return absl::OkStatus();
}

// Splits tensors into `n` shards of roughly equal bytes, keeping ExpectedTensors' order.
std::vector<std::vector<TensorSpec>> PlanShards(const ModelConfig& config, DType dtype, int n) {
  std::vector<TensorSpec> all;
  size_t total = 0;
  for (const auto& [name, shape] : ExpectedTensors(config)) {
    all.push_back({name, dtype, shape});
    total += static_cast<size_t>(TensorView{dtype, shape, nullptr, 0}.numel()) * DTypeSize(dtype);
  }
  std::vector<std::vector<TensorSpec>> shards(n);
  size_t done = 0;
  int shard = 0;
  for (size_t i = 0; i < all.size(); ++i) {
    // Move on once this shard holds its share, leaving at least one tensor per later shard.
    while (
        shard + 1 < n && !shards[shard].empty() &&
        (done >= total / n * (shard + 1) || all.size() - i <= static_cast<size_t>(n - shard - 1))) {
      ++shard;
    }
    shards[shard].push_back(all[i]);
    done +=
        static_cast<size_t>(TensorView{dtype, all[i].shape, nullptr, 0}.numel()) * DTypeSize(dtype);
  }
  return shards;
}

absl::Status WriteWeights(const ModelConfig& config, const std::string& dir,
                          const CheckpointOptions& o) {
  const TensorFiller fill = [&](const TensorSpec& s, void* dst) {
    FillDummyTensor(config, s.name, s.shape, s.dtype, o.seed, dst);
    return absl::OkStatus();
  };
  const auto shards = PlanShards(config, o.dtype, o.num_shards);
  if (o.num_shards == 1) return WriteSafetensors(dir + "/model.safetensors", shards[0], fill);
  Json index;
  Json weight_map = Json::object();
  size_t total = 0;
  for (int i = 0; i < o.num_shards; ++i) {
    const std::string file = absl::StrFormat("model-%05d-of-%05d.safetensors", i + 1, o.num_shards);
    RETURN_IF_ERROR(WriteSafetensors(dir + "/" + file, shards[i], fill));
    for (const TensorSpec& s : shards[i]) {
      weight_map[s.name] = file;
      total += static_cast<size_t>(TensorView{s.dtype, s.shape, nullptr, 0}.numel()) *
               DTypeSize(s.dtype);
    }
  }
  index["metadata"] = {{"total_size", total}};
  index["weight_map"] = weight_map;
  return WriteText(dir + "/model.safetensors.index.json", index.dump(2) + "\n");
}

absl::Status WriteTokenizer(const ModelConfig& config, const std::string& dir,
                            const CheckpointOptions& o) {
  std::vector<std::string> sentences;
  for (const std::string& text : o.corpus_texts) {
    for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipWhitespace())) {
      sentences.emplace_back(line);
    }
  }
  BpeTrainOptions train;
  train.vocab_size = o.tokenizer_vocab_size;
  std::string model;
  const std::string err = TrainBpeTokenizer(sentences, train, &model);
  if (!err.empty()) return absl::InternalError(err);
  RETURN_IF_ERROR(WriteText(dir + "/tokenizer.model", model));
  Json tc;
  tc["tokenizer_class"] = "LlamaTokenizer";
  tc["add_bos_token"] = true;
  tc["add_eos_token"] = false;
  tc["bos_token"] = "<s>";
  tc["eos_token"] = "</s>";
  tc["unk_token"] = "<unk>";
  tc["pad_token"] = nullptr;
  tc["clean_up_tokenization_spaces"] = false;
  tc["legacy"] = true;
  tc["model_max_length"] = config.max_position_embeddings;
  tc["sp_model_kwargs"] = Json::object();
  RETURN_IF_ERROR(WriteText(dir + "/tokenizer_config.json", tc.dump(2) + "\n"));
  Json sm = {{"bos_token", "<s>"}, {"eos_token", "</s>"}, {"unk_token", "<unk>"}};
  return WriteText(dir + "/special_tokens_map.json", sm.dump(2) + "\n");
}

}  // namespace

std::string ModelConfigToJson(const ModelConfig& c) {
  Json j;
  j["architectures"] = {c.architecture};
  j["model_type"] = c.model_type;
  j["hidden_size"] = c.hidden_size;
  j["intermediate_size"] = c.intermediate_size;
  j["num_hidden_layers"] = c.num_layers;
  j["num_attention_heads"] = c.num_heads;
  j["num_key_value_heads"] = c.num_kv_heads;
  j["head_dim"] = c.head_dim;
  j["vocab_size"] = c.vocab_size;
  j["max_position_embeddings"] = c.max_position_embeddings;
  j["hidden_act"] = "silu";
  j["rms_norm_eps"] = c.rms_norm_eps;
  j["rope_theta"] = c.rope_theta;
  if (c.rope_scaling.has_value()) {
    const RopeScaling& rs = *c.rope_scaling;
    j["rope_scaling"] = {{"rope_type", rs.type},
                         {"factor", rs.factor},
                         {"low_freq_factor", rs.low_freq_factor},
                         {"high_freq_factor", rs.high_freq_factor},
                         {"original_max_position_embeddings", rs.original_max_position_embeddings}};
  } else {
    j["rope_scaling"] = nullptr;
  }
  j["attention_bias"] = c.attention_bias;
  j["mlp_bias"] = false;
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  if (c.bos_token_id >= 0) j["bos_token_id"] = c.bos_token_id;
  if (!c.eos_token_ids.empty()) j["eos_token_id"] = EosJson(c.eos_token_ids);
  j["torch_dtype"] = TorchDtype(c.dtype);
  return j.dump(2) + "\n";
}

absl::Status WriteCheckpoint(const ModelConfig& config, const std::string& dir,
                             const CheckpointOptions& options) {
  if (options.dtype != DType::kF32 && options.dtype != DType::kF16 &&
      options.dtype != DType::kBF16) {
    return absl::InvalidArgumentError("checkpoint dtype must be f32, f16 or bf16");
  }
  const int num_tensors = static_cast<int>(ExpectedTensors(config).size());
  if (options.num_shards < 1 || options.num_shards > num_tensors) {
    return absl::InvalidArgumentError(
        absl::StrCat("shards must be between 1 and ", num_tensors, " (the tensor count)"));
  }
  ModelConfig c = config;
  c.dtype = options.dtype;
  if (!options.corpus_texts.empty()) {
    if (c.vocab_size < options.tokenizer_vocab_size) {
      return absl::InvalidArgumentError(absl::StrCat("model vocab_size ", c.vocab_size,
                                                     " is smaller than the tokenizer's ",
                                                     options.tokenizer_vocab_size));
    }
    c.bos_token_id = 1;
    c.eos_token_ids = {2};
  }
  RETURN_IF_ERROR(CheckParameterLimit(c));
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat(dir, ": cannot create: ", ec.message()));
  RETURN_IF_ERROR(CheckDiskSpace(c, dir, options.dtype));
  RETURN_IF_ERROR(WriteWeights(c, dir, options));
  if (!options.corpus_texts.empty()) RETURN_IF_ERROR(WriteTokenizer(c, dir, options));
  RETURN_IF_ERROR(WriteText(dir + "/generation_config.json", GenerationConfigJson(c)));
  // Written last: a folder with config.json is a finished one.
  return WriteText(dir + "/config.json", ModelConfigToJson(c));
}

}  // namespace corvid
