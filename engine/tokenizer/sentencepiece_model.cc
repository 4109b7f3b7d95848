// The only translation unit that includes sentencepiece_processor.h: standard library only,
// no Abseil, no project headers that pull Abseil in.
#include "engine/tokenizer/sentencepiece_model.h"

#include <sentencepiece_processor.h>

#include <cstdint>
#include <cstring>

namespace corvid::spm {
namespace {

// Minimal protobuf wire-format reader for the few ModelProto fields the processor's API does
// not expose (the generated sentencepiece_model.pb.h is not installed by Debian).
class WireReader {
 public:
  explicit WireReader(std::string_view data) : data_(data) {}
  // Next field: false at the end or on malformed input.
  bool Next(int* field, int* wire_type, uint64_t* varint, std::string_view* bytes) {
    if (pos_ >= data_.size()) return false;
    uint64_t key;
    if (!Varint(&key)) return false;
    *field = static_cast<int>(key >> 3);
    *wire_type = static_cast<int>(key & 7);
    switch (*wire_type) {
      case 0:
        return Varint(varint);
      case 1:
        return Skip(8);
      case 5: {  // fixed32 (a float score): returned in *varint
        if (4 > data_.size() - pos_) return false;
        uint32_t v;
        std::memcpy(&v, data_.data() + pos_, 4);
        pos_ += 4;
        *varint = v;
        return true;
      }
      case 2: {
        uint64_t len;
        if (!Varint(&len) || len > data_.size() - pos_) return false;
        *bytes = data_.substr(pos_, len);
        pos_ += len;
        return true;
      }
      default:
        return false;
    }
  }

 private:
  bool Varint(uint64_t* v) {
    *v = 0;
    for (int shift = 0; shift < 64 && pos_ < data_.size(); shift += 7) {
      const uint8_t b = static_cast<uint8_t>(data_[pos_++]);
      *v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) return true;
    }
    return false;
  }
  bool Skip(size_t n) {
    if (n > data_.size() - pos_) return false;
    pos_ += n;
    return true;
  }
  std::string_view data_;
  size_t pos_ = 0;
};

// ModelProto: pieces = 1 (piece = 1, score = 2, type = 3), trainer_spec = 2, normalizer_spec = 3.
// NormalizerSpec: precompiled_charsmap = 2, add_dummy_prefix = 3, remove_extra_whitespaces = 4,
// escape_whitespaces = 5. TrainerSpec: model_type = 3, treat_whitespace_as_suffix = 24,
// byte_fallback = 35, unk_surface = 44.
void ReadProtoFlags(std::string_view proto, ModelInfo* info) {
  WireReader model(proto);
  int field, wire_type;
  uint64_t v;
  std::string_view bytes;
  while (model.Next(&field, &wire_type, &v, &bytes)) {
    if (wire_type != 2 || field < 1 || field > 3) continue;
    WireReader spec(bytes);
    int f, w;
    uint64_t x;
    std::string_view b;
    float score = 0;
    while (spec.Next(&f, &w, &x, &b)) {
      if (field == 1 && f == 2 && w == 5) {
        const uint32_t bits = static_cast<uint32_t>(x);
        std::memcpy(&score, &bits, 4);
      }
      if (field == 1 && f == 3 && w == 0 && x == 4) info->has_user_defined = true;
      if (field == 2 && f == 3 && w == 0) info->model_type = static_cast<int>(x);
      if (field == 2 && f == 24 && w == 0) info->treat_whitespace_as_suffix = x != 0;
      if (field == 2 && f == 35 && w == 0) info->byte_fallback = x != 0;
      if (field == 2 && f == 44 && w == 2) info->unk_surface.assign(b);
      if (field == 3 && f == 2 && w == 2) info->has_precompiled_charsmap = !b.empty();
      if (field == 3 && f == 3 && w == 0) info->add_dummy_prefix = x != 0;
      if (field == 3 && f == 4 && w == 0) info->remove_extra_whitespaces = x != 0;
      if (field == 3 && f == 5 && w == 0) info->escape_whitespaces = x != 0;
    }
    if (field == 1) info->scores.push_back(score);
  }
}

}  // namespace

struct SentencePieceModel::Impl {
  sentencepiece::SentencePieceProcessor processor;
};

SentencePieceModel::SentencePieceModel() : impl_(new Impl()) {}
SentencePieceModel::~SentencePieceModel() = default;

std::unique_ptr<SentencePieceModel> SentencePieceModel::Load(const std::string& path,
                                                             std::string* error) {
  std::unique_ptr<SentencePieceModel> model(new SentencePieceModel());
  auto& sp = model->impl_->processor;
  const auto status = sp.Load(path);
  if (!status.ok()) {
    *error = status.ToString();
    return nullptr;
  }
  ModelInfo& info = model->info_;
  const int n = sp.GetPieceSize();
  info.pieces.reserve(n);
  info.types.reserve(n);
  for (int id = 0; id < n; ++id) {
    info.pieces.push_back(sp.IdToPiece(id));
    PieceType type = PieceType::kNormal;
    if (sp.IsUnknown(id)) {
      type = PieceType::kUnknown;
    } else if (sp.IsControl(id)) {
      type = PieceType::kControl;
    } else if (sp.IsByte(id)) {
      type = PieceType::kByte;
    } else if (sp.IsUnused(id)) {
      type = PieceType::kUnused;
    }
    info.types.push_back(type);
  }
  info.bos_id = sp.bos_id();
  info.eos_id = sp.eos_id();
  info.unk_id = sp.unk_id();
  ReadProtoFlags(sp.serialized_model_proto(), &info);
  return model;
}

bool SentencePieceModel::Encode(std::string_view text, std::vector<int>* ids,
                                std::string* error) const {
  const auto status = impl_->processor.Encode(text, ids);
  if (!status.ok()) {
    *error = status.ToString();
    return false;
  }
  return true;
}

}  // namespace corvid::spm
