// LoadTokenizer: picks the implementation from what the model folder holds.
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "engine/tokenizer/hf_tokenizer.h"
#include "engine/tokenizer/sentencepiece_tokenizer.h"
#include "engine/tokenizer/tokenizer.h"

namespace corvid {

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizer(const std::string& model_dir) {
  namespace fs = std::filesystem;
  const fs::path dir(model_dir);
  const std::string config = (dir / "tokenizer_config.json").string();
  std::error_code ec;
  if (dir.extension() == ".gguf" && fs::is_regular_file(dir, ec)) {
    return LoadGgufTokenizer(model_dir);
  }
  if (fs::is_regular_file(dir / "tokenizer.json", ec)) {
    return LoadHfTokenizer((dir / "tokenizer.json").string(), config);
  }
  if (fs::is_regular_file(dir / "tokenizer.model", ec)) {
    return LoadSentencePieceTokenizer((dir / "tokenizer.model").string(), config);
  }
  // A folder holding one GGUF file (a vocab-only GGUF, for instance).
  std::string gguf;
  int ggufs = 0;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".gguf") {
      gguf = entry.path().string();
      ++ggufs;
    }
  }
  if (ggufs == 1) return LoadGgufTokenizer(gguf);
  return absl::NotFoundError(absl::StrCat("no tokenizer.json, tokenizer.model or single .gguf in ",
                                          model_dir));
}

}  // namespace corvid
