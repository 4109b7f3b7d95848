// WeightStore over memory-mapped safetensors files (single or sharded), and the list of
// tensors a Llama-family model needs.
#include "engine/weights.h"

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/safetensors_file.h"
#include "engine/status_macros.h"
#include "nlohmann/json.hpp"

namespace corvid {
namespace {

using Json = nlohmann::json;

std::string ShapeString(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ","), "]");
}

struct Located {
  TensorView view;
  const SafetensorsFile* file = nullptr;
};

class MappedWeightStore : public WeightStore {
 public:
  const TensorView* Find(const std::string& name) const override {
    auto it = tensors_.find(name);
    return it == tensors_.end() ? nullptr : &it->second.view;
  }
  std::vector<std::string> Names() const override {
    std::vector<std::string> names;
    names.reserve(tensors_.size());
    for (const auto& [name, t] : tensors_) names.push_back(name);
    return names;
  }

  // Takes ownership of `file` and exposes `names` from it (all of its tensors when empty).
  absl::Status Add(std::unique_ptr<SafetensorsFile> file, const std::set<std::string>& names);
  absl::Status Check(const ModelConfig& config) const;

 private:
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, Located> tensors_;
  std::vector<std::unique_ptr<void, decltype(&std::free)>> copies_;
};

absl::Status MappedWeightStore::Add(std::unique_ptr<SafetensorsFile> file,
                                    const std::set<std::string>& names) {
  for (const std::string& name : names) {
    if (file->Find(name) == nullptr) {
      return absl::DataLossError(absl::StrCat(
          file->path(), ": tensor '", name,
          "' is listed for this file in model.safetensors.index.json but is not in it"));
    }
  }
  for (const auto& [name, view] : file->tensors()) {
    if (!names.empty() && names.count(name) == 0) continue;
    auto [it, inserted] = tensors_.emplace(name, Located{view, file.get()});
    if (!inserted) {
      return absl::DataLossError(absl::StrCat(file->path(), ": tensor '", name,
                                              "' also appears in ", it->second.file->path()));
    }
    // Safetensors does not promise alignment; kernels read elements directly, so a misaligned
    // tensor (rare: odd-sized neighbours) is copied into an aligned buffer.
    const size_t align = DTypeSize(view.dtype);
    if (reinterpret_cast<uintptr_t>(view.data) % align != 0 && view.nbytes > 0) {
      void* copy = std::aligned_alloc(64, (view.nbytes + 63) / 64 * 64);
      if (copy == nullptr) return absl::ResourceExhaustedError("out of memory copying tensor");
      std::memcpy(copy, view.data, view.nbytes);
      it->second.view.data = copy;
      copies_.emplace_back(copy, &std::free);
    }
  }
  files_.push_back(std::move(file));
  return absl::OkStatus();
}

absl::Status MappedWeightStore::Check(const ModelConfig& config) const {
  for (const auto& [name, shape] : ExpectedTensors(config)) {
    auto it = tensors_.find(name);
    if (it == tensors_.end()) {
      std::vector<std::string> paths;
      for (const auto& f : files_) paths.push_back(f->path());
      return absl::InvalidArgumentError(absl::StrCat("missing tensor '", name, "' ",
                                                     ShapeString(shape), " (looked in ",
                                                     absl::StrJoin(paths, ", "), ")"));
    }
    const TensorView& v = it->second.view;
    const std::string& path = it->second.file->path();
    if (v.shape != shape) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": tensor '", name, "' has shape ",
                                                     ShapeString(v.shape), ", config.json needs ",
                                                     ShapeString(shape)));
    }
    if (v.dtype != DType::kF32 && v.dtype != DType::kF16 && v.dtype != DType::kBF16) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": tensor '", name, "' has dtype ",
                                                     DTypeName(v.dtype),
                                                     "; F32, F16 or BF16 required"));
    }
  }
  return absl::OkStatus();
}

bool ReadText(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return !in.bad();
}

// Parses the shard index into file -> tensor names.
absl::StatusOr<std::map<std::string, std::set<std::string>>> ReadIndex(const std::string& path,
                                                                       const std::string& text) {
  Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::DataLossError(absl::StrCat(path, ": not a valid JSON object"));
  }
  auto map = j.find("weight_map");
  if (map == j.end() || !map->is_object() || map->empty()) {
    return absl::DataLossError(absl::StrCat(path, ": missing or empty 'weight_map'"));
  }
  std::map<std::string, std::set<std::string>> shards;
  for (auto it = map->begin(); it != map->end(); ++it) {
    const Json& v = it.value();
    // Shard names must stay inside the model folder.
    if (!v.is_string() || v.get<std::string>().empty() ||
        v.get<std::string>().find('/') != std::string::npos || v.get<std::string>() == ".." ||
        v.get<std::string>() == ".") {
      return absl::DataLossError(absl::StrCat(path, ": weight_map entry for tensor '", it.key(),
                                              "' is not a plain file name: ", v.dump()));
    }
    shards[v.get<std::string>()].insert(it.key());
  }
  return shards;
}

}  // namespace

absl::StatusOr<std::unique_ptr<WeightStore>> WeightStore::Open(const std::string& dir,
                                                               const ModelConfig& config) {
  auto store = std::make_unique<MappedWeightStore>();
  const std::string index_path = dir + "/model.safetensors.index.json";
  std::string index_text;
  if (ReadText(index_path, &index_text)) {
    ASSIGN_OR_RETURN(auto shards, ReadIndex(index_path, index_text));
    for (const auto& [file, names] : shards) {
      ASSIGN_OR_RETURN(auto f, SafetensorsFile::Open(dir + "/" + file));
      RETURN_IF_ERROR(store->Add(std::move(f), names));
    }
  } else {
    ASSIGN_OR_RETURN(auto f, SafetensorsFile::Open(dir + "/model.safetensors"));
    RETURN_IF_ERROR(store->Add(std::move(f), {}));
  }
  RETURN_IF_ERROR(store->Check(config));
  return std::unique_ptr<WeightStore>(std::move(store));
}

absl::StatusOr<const TensorView*> WeightStore::Get(const std::string& name) const {
  const TensorView* t = Find(name);
  if (t == nullptr) return absl::NotFoundError(absl::StrCat("no tensor named '", name, "'"));
  return t;
}

std::map<std::string, std::vector<int64_t>> ExpectedTensors(const ModelConfig& c) {
  const int64_t h = c.hidden_size, ff = c.intermediate_size, v = c.vocab_size;
  const int64_t q = c.q_dim(), kv = c.kv_dim();
  std::map<std::string, std::vector<int64_t>> out;
  out["model.embed_tokens.weight"] = {v, h};
  for (int i = 0; i < c.num_layers; ++i) {
    const std::string p = absl::StrCat("model.layers.", i, ".");
    out[p + "input_layernorm.weight"] = {h};
    out[p + "self_attn.q_proj.weight"] = {q, h};
    out[p + "self_attn.k_proj.weight"] = {kv, h};
    out[p + "self_attn.v_proj.weight"] = {kv, h};
    out[p + "self_attn.o_proj.weight"] = {h, q};
    if (c.attention_bias) {
      out[p + "self_attn.q_proj.bias"] = {q};
      out[p + "self_attn.k_proj.bias"] = {kv};
      out[p + "self_attn.v_proj.bias"] = {kv};
      // Llama's attention_bias also puts a bias on o_proj; Qwen2's never does.
      if (c.model_type == "llama") out[p + "self_attn.o_proj.bias"] = {h};
    }
    out[p + "post_attention_layernorm.weight"] = {h};
    out[p + "mlp.gate_proj.weight"] = {ff, h};
    out[p + "mlp.up_proj.weight"] = {ff, h};
    out[p + "mlp.down_proj.weight"] = {h, ff};
  }
  out["model.norm.weight"] = {h};
  if (!c.tie_word_embeddings) out["lm_head.weight"] = {v, h};
  return out;
}

}  // namespace corvid
