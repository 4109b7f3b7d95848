#include "services/tokenizer/model_registry.h"

#include <algorithm>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/status_macros.h"
#include "services/tokenizer/padded_vocab.h"

namespace corvid::tokenizer_service {
namespace {

// Files that define a tokenizer's behaviour; the digest covers those present.
constexpr const char* kTokenizerFiles[] = {"added_tokens.json", "special_tokens_map.json",
                                           "tokenizer.json", "tokenizer.model",
                                           "tokenizer_config.json"};

bool ValidNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-' || c == '/' || c == ':';
}

absl::Status DigestFiles(LoadedModel* model) {
  std::string lines;
  for (const char* name : kTokenizerFiles) {  // already in name order
    std::filesystem::path path = std::filesystem::path(model->dir) / name;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) continue;
    ASSIGN_OR_RETURN(service::FileDigest digest, service::Sha256File(path.string()));
    absl::StrAppend(&lines, name, " ", digest.sha256_hex, "\n");
    model->files.push_back({name, std::move(digest)});
  }
  model->digest_sha256 = service::Sha256Hex(lines);
  return absl::OkStatus();
}

void CollectSpecialTokens(LoadedModel* model) {
  const Tokenizer& tok = *model->tokenizer;
  for (int32_t id = 0; id < model->piece_count; ++id) {
    if (tok.IsSpecial(id)) model->special_tokens.emplace_back(id, tok.IdToPiece(id));
  }
}

}  // namespace

absl::StatusOr<ModelSpec> ParseModelSpec(const std::string& text) {
  size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == text.size()) {
    return absl::InvalidArgumentError(absl::StrCat("--model '", text, "': expected NAME=DIR"));
  }
  ModelSpec spec{text.substr(0, eq), text.substr(eq + 1)};
  if (!std::all_of(spec.name.begin(), spec.name.end(), ValidNameChar)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--model '", text, "': the name may hold letters, digits and . _ - / : only"));
  }
  return spec;
}

absl::StatusOr<std::unique_ptr<LoadedModel>> LoadModel(const ModelSpec& spec) {
  auto model = std::make_unique<LoadedModel>();
  model->name = spec.name;
  model->dir = spec.dir;
  auto tokenizer = LoadTokenizer(spec.dir);
  if (!tokenizer.ok()) {
    return absl::Status(tokenizer.status().code(),
                        absl::StrCat("model '", spec.name, "': ", tokenizer.status().message()));
  }
  model->tokenizer = std::move(tokenizer).value();
  model->piece_count = model->tokenizer->vocab_size();
  auto config_vocab = ConfigVocabSize(spec.dir);
  if (!config_vocab.ok()) {
    return absl::Status(config_vocab.status().code(),
                        absl::StrCat("model '", spec.name, "': ", config_vocab.status().message()));
  }
  model->vocab_size = std::max(model->piece_count, *config_vocab);
  CollectSpecialTokens(model.get());
  RETURN_IF_ERROR(DigestFiles(model.get()));
  return model;
}

absl::StatusOr<std::unique_ptr<ModelRegistry>> ModelRegistry::Load(
    const std::vector<ModelSpec>& specs) {
  if (specs.empty()) return absl::InvalidArgumentError("no model: give --model NAME=DIR");
  std::unique_ptr<ModelRegistry> registry(new ModelRegistry());
  for (const ModelSpec& spec : specs) {
    if (registry->models_.contains(spec.name)) {
      return absl::InvalidArgumentError(absl::StrCat("model name '", spec.name, "' given twice"));
    }
    ASSIGN_OR_RETURN(std::unique_ptr<LoadedModel> model, LoadModel(spec));
    registry->names_.push_back(spec.name);
    registry->models_.emplace(spec.name, std::move(model));
  }
  return registry;
}

absl::StatusOr<const LoadedModel*> ModelRegistry::Find(const std::string& name) const {
  const std::string& key = name.empty() ? names_.front() : name;
  auto it = models_.find(key);
  if (it == models_.end()) {
    return absl::NotFoundError(
        absl::StrCat("unknown model '", name, "' (served: ", absl::StrJoin(names_, ", "), ")"));
  }
  return it->second.get();
}

}  // namespace corvid::tokenizer_service
