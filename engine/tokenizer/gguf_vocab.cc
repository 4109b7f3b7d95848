// GGUF layout (v2/v3): "GGUF", u32 version, u64 tensor count, u64 key/value count, then the
// key/value pairs (string key, u32 type, value). Only the metadata is read; tensors are not.
#include "engine/tokenizer/gguf_vocab.h"

#include <cstring>
#include <fstream>
#include <sstream>
#include <variant>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "engine/status_macros.h"

namespace corvid {
namespace {

enum GgufType : uint32_t {
  kU8, kI8, kU16, kI16, kU32, kI32, kF32, kBool, kString, kArray, kU64, kI64, kF64
};

struct Value {
  int64_t integer = 0;                   // every integer and bool type
  std::string string;                    // kString
  std::vector<std::string> strings;      // arrays of strings
  std::vector<int64_t> integers;         // arrays of integers
};

class Reader {
 public:
  explicit Reader(std::string data) : data_(std::move(data)) {}
  absl::Status Read(void* out, size_t n) {
    if (n > data_.size() - pos_) return absl::InvalidArgumentError("GGUF: truncated file");
    std::memcpy(out, data_.data() + pos_, n);
    pos_ += n;
    return absl::OkStatus();
  }
  template <typename T>
  absl::StatusOr<T> Get() {
    T v{};
    RETURN_IF_ERROR(Read(&v, sizeof(T)));
    return v;
  }
  absl::StatusOr<std::string> String() {
    ASSIGN_OR_RETURN(uint64_t n, Get<uint64_t>());
    if (n > data_.size() - pos_) return absl::InvalidArgumentError("GGUF: string out of bounds");
    std::string s = data_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  absl::Status Scalar(uint32_t type, Value* v) {
    static constexpr int kSize[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    if (type == kString) {
      ASSIGN_OR_RETURN(v->string, String());
      return absl::OkStatus();
    }
    if (type > kF64 || type == kArray) return absl::InvalidArgumentError("GGUF: bad type");
    uint64_t raw = 0;
    RETURN_IF_ERROR(Read(&raw, kSize[type]));
    const bool is_signed = type == kI8 || type == kI16 || type == kI32 || type == kI64;
    const int bits = kSize[type] * 8;
    v->integer = is_signed && bits < 64 && (raw >> (bits - 1)) & 1
                     ? static_cast<int64_t>(raw | (~0ULL << bits))
                     : static_cast<int64_t>(raw);
    return absl::OkStatus();
  }
  absl::Status Any(uint32_t type, Value* v) {
    if (type != kArray) return Scalar(type, v);
    ASSIGN_OR_RETURN(uint32_t element, Get<uint32_t>());
    ASSIGN_OR_RETURN(uint64_t n, Get<uint64_t>());
    if (element == kArray || n > data_.size()) {
      return absl::InvalidArgumentError("GGUF: unsupported array");
    }
    for (uint64_t i = 0; i < n; ++i) {
      Value e;
      RETURN_IF_ERROR(Scalar(element, &e));
      if (element == kString) {
        v->strings.push_back(std::move(e.string));
      } else {
        v->integers.push_back(e.integer);
      }
    }
    return absl::OkStatus();
  }

 private:
  std::string data_;
  size_t pos_ = 0;
};

absl::StatusOr<absl::flat_hash_map<std::string, Value>> ReadMetadata(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  Reader r(ss.str());
  char magic[4];
  RETURN_IF_ERROR(r.Read(magic, 4));
  if (std::memcmp(magic, "GGUF", 4) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a GGUF file"));
  }
  ASSIGN_OR_RETURN(uint32_t version, r.Get<uint32_t>());
  if (version < 2 || version > 3) {
    return absl::UnimplementedError(absl::StrCat(path, ": GGUF version ", version));
  }
  RETURN_IF_ERROR(r.Get<uint64_t>().status());  // tensor count
  ASSIGN_OR_RETURN(uint64_t count, r.Get<uint64_t>());
  absl::flat_hash_map<std::string, Value> kv;
  for (uint64_t i = 0; i < count; ++i) {
    ASSIGN_OR_RETURN(std::string key, r.String());
    ASSIGN_OR_RETURN(uint32_t type, r.Get<uint32_t>());
    RETURN_IF_ERROR(r.Any(type, &kv[key]));
  }
  return kv;
}

using Metadata = absl::flat_hash_map<std::string, Value>;

const Value* Find(const Metadata& kv, const char* key) {
  auto it = kv.find(key);
  return it == kv.end() ? nullptr : &it->second;
}

// llama.cpp's named pre-tokenizer as Split steps, then ByteLevel without regex or prefix space.
absl::Status AddPipeline(const Metadata& kv, const std::string& path, HfTokenizerSpec* spec) {
  const Value* pre = Find(kv, "tokenizer.ggml.pre");
  const std::vector<SplitPattern> splits = DeepSeekPreTokenizer(pre ? pre->string : "");
  if (splits.empty()) {
    return absl::UnimplementedError(absl::StrCat(path, ": unsupported pre-tokenizer '",
                                                 pre ? pre->string : "", "'"));
  }
  for (SplitPattern p : splits) {
    HfPreTokenizerStep split;
    split.kind = HfPreTokenizerStep::Kind::kSplit;
    split.pattern = p;
    spec->pre_tokenizers.push_back(split);
  }
  HfPreTokenizerStep byte_level;
  byte_level.kind = HfPreTokenizerStep::Kind::kByteLevel;
  spec->pre_tokenizers.push_back(byte_level);
  HfDecoderStep decoder;
  decoder.kind = HfDecoderStep::Kind::kByteLevel;
  spec->decoders.push_back(decoder);
  return absl::OkStatus();
}

absl::Status AddVocabulary(const Metadata& kv, const std::string& path, HfTokenizerSpec* spec) {
  const Value* tokens = Find(kv, "tokenizer.ggml.tokens");
  const Value* types = Find(kv, "tokenizer.ggml.token_type");
  const Value* merges = Find(kv, "tokenizer.ggml.merges");
  if (!tokens || !types || !merges || types->integers.size() != tokens->strings.size()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": tokens, types or merges missing"));
  }
  // llama.cpp token types: 1 normal, 2 unknown, 3 control, 4 user defined, 5 unused, 6 byte.
  // Control and user-defined tokens were the tokenizer.json's added tokens.
  for (size_t id = 0; id < tokens->strings.size(); ++id) {
    const int64_t type = types->integers[id];
    if (type == 3 || type == 4) {
      HfAddedToken t;
      t.id = static_cast<int32_t>(id);
      t.content = tokens->strings[id];
      t.special = type == 3;
      spec->added_tokens.push_back(std::move(t));
    } else {
      spec->vocab.emplace_back(tokens->strings[id], static_cast<int32_t>(id));
    }
  }
  spec->keep_added_token_ids = true;
  for (const std::string& m : merges->strings) {
    const size_t space = m.find(' ', 1);
    if (space == std::string::npos) return absl::InvalidArgumentError("GGUF: bad merge " + m);
    spec->merges.emplace_back(m.substr(0, space), m.substr(space + 1));
  }
  auto token_of = [&](const char* key) -> std::optional<std::string> {
    const Value* v = Find(kv, key);
    if (!v || v->integer < 0 || static_cast<size_t>(v->integer) >= tokens->strings.size()) {
      return std::nullopt;
    }
    return tokens->strings[v->integer];
  };
  spec->bos_token = token_of("tokenizer.ggml.bos_token_id");
  spec->eos_token = token_of("tokenizer.ggml.eos_token_id");
  if (const Value* v = Find(kv, "tokenizer.ggml.add_bos_token")) {
    spec->add_bos_token = v->integer != 0;
  }
  if (const Value* v = Find(kv, "tokenizer.ggml.add_eos_token")) {
    spec->add_eos_token = v->integer != 0;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<HfTokenizerSpec> ReadGgufVocab(const std::string& path) {
  ASSIGN_OR_RETURN(Metadata kv, ReadMetadata(path));
  const Value* model = Find(kv, "tokenizer.ggml.model");
  if (!model || model->string != "gpt2") {
    return absl::UnimplementedError(absl::StrCat(
        path, ": only byte-level BPE (tokenizer.ggml.model gpt2) GGUF vocabularies are supported"));
  }
  HfTokenizerSpec spec;
  RETURN_IF_ERROR(AddPipeline(kv, path, &spec));
  RETURN_IF_ERROR(AddVocabulary(kv, path, &spec));
  return spec;
}

}  // namespace corvid
