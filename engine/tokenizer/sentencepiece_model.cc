// The only translation unit that includes sentencepiece_processor.h: standard library only,
// no Abseil, no project headers that pull Abseil in.
#include "engine/tokenizer/sentencepiece_model.h"

#include <sentencepiece_processor.h>

#include <dlfcn.h>

#include <cstdint>
#include <cstring>
#include <new>

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

// libsentencepiece.so bundles its own protobuf-lite (3.14) and exports its symbols. In a process
// that also loads libprotobuf.so (every gRPC service), the dynamic linker binds each library's
// protobuf calls to whichever copy comes first, and protobuf aborts on its version check (or
// worse, runs one version's code on the other's data). So the engine does not link
// libsentencepiece: it opens it here with RTLD_DEEPBIND, which makes the library resolve its own
// symbols before the process's, and reaches it through virtual calls plus four looked-up
// functions (the class's non-virtual entry points this file uses).
struct SentencePieceLib {
  void (*construct)(sentencepiece::SentencePieceProcessor*) = nullptr;
  void (*destroy_status)(sentencepiece::util::Status*) = nullptr;
  std::string (*status_string)(const sentencepiece::util::Status*) = nullptr;
  std::string (*serialized_proto)(const sentencepiece::SentencePieceProcessor*) = nullptr;
  std::string error;  // non-empty when the library could not be opened
};

template <typename Fn>
bool Lookup(void* handle, const char* symbol, Fn* fn, std::string* error) {
  *fn = reinterpret_cast<Fn>(dlsym(handle, symbol));
  if (*fn == nullptr) *error = std::string("libsentencepiece lacks ") + symbol;
  return *fn != nullptr;
}

const SentencePieceLib& Lib() {
  static const SentencePieceLib lib = [] {
    SentencePieceLib l;
    int flags = RTLD_NOW | RTLD_LOCAL;
#if !defined(__SANITIZE_ADDRESS__)
    flags |= RTLD_DEEPBIND;  // ASan refuses it; sanitizer builds load no gRPC anyway
#endif
    void* handle = dlopen("libsentencepiece.so.0", flags);
    if (handle == nullptr) handle = dlopen("libsentencepiece.so", flags);
    if (handle == nullptr) {
      const char* why = dlerror();
      l.error = std::string("cannot load libsentencepiece: ") + (why ? why : "unknown error");
      return l;
    }
    // Never closed: processors may live until exit.
    Lookup(handle, "_ZN13sentencepiece22SentencePieceProcessorC1Ev", &l.construct, &l.error) &&
        Lookup(handle, "_ZN13sentencepiece4util6StatusD1Ev", &l.destroy_status, &l.error) &&
        Lookup(handle, "_ZNK13sentencepiece4util6Status8ToStringB5cxx11Ev", &l.status_string,
               &l.error) &&
        Lookup(handle,
               "_ZNK13sentencepiece22SentencePieceProcessor22serialized_model_protoB5cxx11Ev",
               &l.serialized_proto, &l.error);
    return l;
  }();
  return lib;
}

// A util::Status returned by a library call, built in place (guaranteed copy elision) so that
// the compiler emits no call to the library's out-of-line destructor; destroyed through Lib().
class LibStatus {
 public:
  template <typename Call>
  explicit LibStatus(Call call) {
    new (storage_) sentencepiece::util::Status(call());
  }
  ~LibStatus() { Lib().destroy_status(get()); }
  LibStatus(const LibStatus&) = delete;
  LibStatus& operator=(const LibStatus&) = delete;
  bool ok() const { return get()->ok(); }
  std::string ToString() const { return Lib().status_string(get()); }

 private:
  sentencepiece::util::Status* get() const {
    return std::launder(reinterpret_cast<sentencepiece::util::Status*>(
        const_cast<unsigned char*>(storage_)));
  }
  alignas(sentencepiece::util::Status) unsigned char storage_[sizeof(sentencepiece::util::Status)];
};

}  // namespace

// Owns a processor constructed by the library; deleted through its virtual destructor, which
// the library's vtable supplies.
struct SentencePieceModel::Impl {
  explicit Impl(sentencepiece::SentencePieceProcessor* p) : processor(p) {}
  ~Impl() { delete processor; }
  sentencepiece::SentencePieceProcessor* processor;
};

SentencePieceModel::SentencePieceModel() = default;
SentencePieceModel::~SentencePieceModel() = default;

std::unique_ptr<SentencePieceModel> SentencePieceModel::Load(const std::string& path,
                                                             std::string* error) {
  const SentencePieceLib& lib = Lib();
  if (!lib.error.empty()) {
    *error = lib.error;
    return nullptr;
  }
  void* storage = ::operator new(sizeof(sentencepiece::SentencePieceProcessor));
  auto* processor = static_cast<sentencepiece::SentencePieceProcessor*>(storage);
  lib.construct(processor);
  std::unique_ptr<SentencePieceModel> model(new SentencePieceModel());
  model->impl_ = std::make_unique<Impl>(processor);
  auto& sp = *processor;
  const LibStatus status([&] { return sp.Load(path); });
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
  ReadProtoFlags(lib.serialized_proto(processor), &info);
  return model;
}

bool SentencePieceModel::Encode(std::string_view text, std::vector<int>* ids,
                                std::string* error) const {
  const LibStatus status([&] { return impl_->processor->Encode(text, ids); });
  if (!status.ok()) {
    *error = status.ToString();
    return false;
  }
  return true;
}

}  // namespace corvid::spm
