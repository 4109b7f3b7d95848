// The SentencePiece firewall (DESIGN §4): libsentencepiece 0.1.97's header defines its own
// absl::string_view and breaks any file that also includes Abseil. This header includes only
// the standard library; sentencepiece_model.cc is the one translation unit that includes
// sentencepiece_processor.h.
#ifndef CORVID_ENGINE_TOKENIZER_SENTENCEPIECE_MODEL_H_
#define CORVID_ENGINE_TOKENIZER_SENTENCEPIECE_MODEL_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace corvid::spm {

enum class PieceType { kNormal, kUnknown, kControl, kUserDefined, kByte, kUnused };

struct ModelInfo {
  std::vector<std::string> pieces;
  std::vector<PieceType> types;
  int bos_id = -1, eos_id = -1, unk_id = -1;
  // From the model's normalizer_spec / trainer_spec (proto defaults when unset).
  bool add_dummy_prefix = true;
  bool remove_extra_whitespaces = true;
  std::string unk_surface = " \xE2\x81\x87 ";  // " ⁇ "
  // What sentencepiece_bpe.cc needs to tell whether it reproduces this model exactly.
  std::vector<float> scores;
  bool has_user_defined = false;
  int model_type = 1;  // TrainerSpec.ModelType: 1 unigram, 2 bpe, 3 word, 4 char
  bool byte_fallback = false;
  bool treat_whitespace_as_suffix = false;
  bool escape_whitespaces = true;
  bool has_precompiled_charsmap = false;
};

class SentencePieceModel {
 public:
  ~SentencePieceModel();
  // nullptr with *error set when the file cannot be read or parsed.
  static std::unique_ptr<SentencePieceModel> Load(const std::string& path, std::string* error);

  // Ids of `text` (no bos/eos); false with *error set on failure.
  bool Encode(std::string_view text, std::vector<int>* ids, std::string* error) const;
  const ModelInfo& info() const { return info_; }

 private:
  struct Impl;
  SentencePieceModel();
  std::unique_ptr<Impl> impl_;
  ModelInfo info_;
};

}  // namespace corvid::spm

#endif  // CORVID_ENGINE_TOKENIZER_SENTENCEPIECE_MODEL_H_
