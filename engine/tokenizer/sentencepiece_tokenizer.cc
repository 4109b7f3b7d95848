#include "engine/tokenizer/sentencepiece_tokenizer.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "engine/status_macros.h"
#include "engine/tokenizer/decode_rules.h"
#include "engine/tokenizer/sentencepiece_bpe.h"
#include "engine/tokenizer/sentencepiece_model.h"
#include "engine/tokenizer/streaming_detokenizer.h"
#include "engine/tokenizer/utf8.h"
#include "nlohmann/json.hpp"

namespace corvid {
namespace {

constexpr char kSpaceSymbol[] = "\xE2\x96\x81";  // ▁

class SentencePieceTokenizer final : public Tokenizer {
 public:
  SentencePieceTokenizer(std::unique_ptr<spm::SentencePieceModel> model, bool add_bos,
                         bool add_eos)
      : model_(std::move(model)),
        native_(SentencePieceBpe::Create(model_->info())),
        add_bos_(add_bos),
        add_eos_(add_eos) {
    BuildRules();
  }

  absl::StatusOr<std::vector<int32_t>> Encode(std::string_view text,
                                              bool add_special_tokens) const override;
  absl::StatusOr<std::string> Decode(absl::Span<const int32_t> ids,
                                     bool skip_special_tokens) const override {
    return DecodeWithRules(rules_, ids, skip_special_tokens);
  }
  int vocab_size() const override { return static_cast<int>(info().pieces.size()); }
  int bos_id() const override { return info().bos_id; }
  int eos_id() const override { return info().eos_id; }
  bool IsSpecial(int32_t id) const override {
    return id >= 0 && id < vocab_size() && rules_.pieces[id].special;
  }
  std::string IdToPiece(int32_t id) const override {
    return id >= 0 && id < vocab_size() ? info().pieces[id] : std::string();
  }
  const DecodeRules* decode_rules() const override { return &rules_; }

 private:
  const spm::ModelInfo& info() const { return model_->info(); }
  void BuildRules();

  std::unique_ptr<spm::SentencePieceModel> model_;
  std::unique_ptr<SentencePieceBpe> native_;  // null: encode with libsentencepiece
  bool add_bos_, add_eos_;
  DecodeRules rules_;
};

// sentencepiece's Decode as DecodeRules: control pieces vanish, <unk> shows its surface, byte
// pieces go through per-byte UTF-8 repair, ▁ becomes a space and the first ▁ of the text is
// dropped (the dummy prefix).
void SentencePieceTokenizer::BuildRules() {
  const spm::ModelInfo& m = info();
  rules_.utf8 = DecodeRules::Utf8::kByteRunPerByte;
  rules_.leading = DecodeRules::LeadingSpace::kSentencePiece;
  rules_.sp_strip_allowed = m.add_dummy_prefix || m.remove_extra_whitespaces;
  rules_.sp_remove_extra_whitespaces = m.remove_extra_whitespaces;
  rules_.pieces.resize(m.pieces.size());
  for (size_t id = 0; id < m.pieces.size(); ++id) {
    DecodeRules::Piece& p = rules_.pieces[id];
    const std::string& piece = m.pieces[id];
    switch (m.types[id]) {
      case spm::PieceType::kControl:
        p.kind = DecodeRules::Kind::kInvisible;
        p.special = true;
        break;
      case spm::PieceType::kUnknown:
        p.text = m.unk_surface;
        p.special = true;
        break;
      case spm::PieceType::kByte:
        p.kind = DecodeRules::Kind::kByte;
        p.byte = static_cast<uint8_t>(std::stoi(piece.substr(3, 2), nullptr, 16));
        break;
      default: {
        p.text = absl::StrReplaceAll(piece, {{kSpaceSymbol, " "}});
        p.sp_bos_space = piece.rfind(kSpaceSymbol, 0) == 0;
        if (p.sp_bos_space) {
          p.first_text = p.text.substr(1);
          p.has_first_text = true;
        }
      }
    }
  }
}

absl::StatusOr<std::vector<int32_t>> SentencePieceTokenizer::Encode(
    std::string_view text, bool add_special_tokens) const {
  const size_t bad = utf8::FindInvalid(text);
  if (bad != std::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat("text is not valid UTF-8 at byte ", bad));
  }
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 2);
  if (add_special_tokens && add_bos_ && info().bos_id >= 0) ids.push_back(info().bos_id);
  if (native_) {
    native_->Encode(text, &ids);
  } else {
    std::vector<int> raw;
    std::string error;
    if (!model_->Encode(text, &raw, &error)) {
      return absl::InternalError(absl::StrCat("sentencepiece: ", error));
    }
    ids.insert(ids.end(), raw.begin(), raw.end());
  }
  if (add_special_tokens && add_eos_ && info().eos_id >= 0) ids.push_back(info().eos_id);
  return ids;
}

// add_bos_token / add_eos_token of tokenizer_config.json, when the file and keys exist.
absl::Status ReadAddFlags(const std::string& config_path, bool* add_bos, bool* add_eos) {
  std::ifstream in(config_path);
  if (!in) return absl::OkStatus();
  std::stringstream text;
  text << in.rdbuf();
  try {
    const nlohmann::json config = nlohmann::json::parse(text.str());
    if (config.contains("add_bos_token") && config["add_bos_token"].is_boolean()) {
      *add_bos = config["add_bos_token"].get<bool>();
    }
    if (config.contains("add_eos_token") && config["add_eos_token"].is_boolean()) {
      *add_eos = config["add_eos_token"].get<bool>();
    }
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(config_path, ": ", e.what()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadSentencePieceTokenizer(
    const std::string& model_path, const std::string& config_path) {
  std::string error;
  auto model = spm::SentencePieceModel::Load(model_path, &error);
  if (model == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("cannot load ", model_path, ": ", error));
  }
  bool add_bos = true, add_eos = false;
  if (!config_path.empty()) RETURN_IF_ERROR(ReadAddFlags(config_path, &add_bos, &add_eos));
  return std::unique_ptr<Tokenizer>(
      new SentencePieceTokenizer(std::move(model), add_bos, add_eos));
}

}  // namespace corvid
