// The tokenizers one corvid-tokenizer process serves, by model name, with what GetInfo reports
// about each (special tokens, file digests). Immutable once loaded, so request threads read it
// without locks.
#ifndef CORVID_SERVICES_TOKENIZER_MODEL_REGISTRY_H_
#define CORVID_SERVICES_TOKENIZER_MODEL_REGISTRY_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "engine/tokenizer/tokenizer.h"
#include "services/common/file_digest.h"

namespace corvid::tokenizer_service {

struct ModelSpec {
  std::string name;
  std::string dir;
};

// Parses "NAME=DIR" (NAME: letters, digits, '.', '_', '-', '/', ':'; DIR non-empty).
// INVALID_ARGUMENT naming the malformed spec.
absl::StatusOr<ModelSpec> ParseModelSpec(const std::string& text);

struct TokenizerFileInfo {
  std::string name;  // relative to the model directory
  service::FileDigest digest;
};

struct LoadedModel {
  std::string name;
  std::string dir;
  std::unique_ptr<Tokenizer> tokenizer;
  // Ids accepted: [0, vocab_size). The model's vocabulary (its config.json, when the folder has
  // one) may be padded beyond the tokenizer's pieces [0, piece_count): the ids between are valid
  // model outputs with no text (see padded_vocab.h).
  int vocab_size = 0;
  int piece_count = 0;
  std::vector<std::pair<int32_t, std::string>> special_tokens;  // (id, piece), by id
  std::vector<TokenizerFileInfo> files;                         // by name
  std::string digest_sha256;  // over `files`, as tokenizer.proto's GetInfoResponse defines
};

class ModelRegistry {
 public:
  // Loads every spec (the first is the default model). INVALID_ARGUMENT for no specs or a
  // duplicate name; the loader's error, prefixed with the model name, for a bad directory.
  static absl::StatusOr<std::unique_ptr<ModelRegistry>> Load(const std::vector<ModelSpec>& specs);

  // "" selects the default model. NOT_FOUND names the unknown model and the served ones.
  absl::StatusOr<const LoadedModel*> Find(const std::string& name) const;
  const std::vector<std::string>& names() const { return names_; }

 private:
  ModelRegistry() = default;

  std::vector<std::string> names_;  // configuration order; names_[0] is the default
  absl::flat_hash_map<std::string, std::unique_ptr<LoadedModel>> models_;
};

// Loads one model directory (exposed for tests and tools).
absl::StatusOr<std::unique_ptr<LoadedModel>> LoadModel(const ModelSpec& spec);

}  // namespace corvid::tokenizer_service

#endif  // CORVID_SERVICES_TOKENIZER_MODEL_REGISTRY_H_
