// Encode pipeline of a tokenizer.json BPE tokenizer, in tokenizers' order: added tokens are cut
// out of the raw text first; each remaining segment is normalized, (normalized added tokens
// are cut out,) pre-tokenized into pieces, and each piece is BPE-encoded.
#include "engine/tokenizer/hf_tokenizer.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "engine/status_macros.h"
#include "engine/tokenizer/added_tokens.h"
#include "engine/tokenizer/bpe_model.h"
#include "engine/tokenizer/byte_level.h"
#include "engine/tokenizer/gguf_vocab.h"
#include "engine/tokenizer/streaming_detokenizer.h"
#include "engine/tokenizer/unicode.h"
#include "engine/tokenizer/utf8.h"

namespace corvid {
namespace {

using PreStep = HfPreTokenizerStep;

std::string_view ApplyMetaspace(const PreStep& p, std::string_view text, bool at_start,
                                std::string* buffer, std::vector<Span>* spans);

class HfTokenizer final : public Tokenizer {
 public:
  static absl::StatusOr<std::unique_ptr<Tokenizer>> Create(HfTokenizerSpec spec);

  absl::StatusOr<std::vector<int32_t>> Encode(std::string_view text,
                                              bool add_special_tokens) const override;
  absl::StatusOr<std::string> Decode(absl::Span<const int32_t> ids,
                                     bool skip_special_tokens) const override {
    return DecodeWithRules(rules_, ids, skip_special_tokens);
  }
  int vocab_size() const override { return static_cast<int>(tokens_.size()); }
  int bos_id() const override { return bos_; }
  int eos_id() const override { return eos_; }
  bool IsSpecial(int32_t id) const override {
    return id >= 0 && id < vocab_size() && special_[id];
  }
  std::string IdToPiece(int32_t id) const override {
    return id >= 0 && id < vocab_size() ? tokens_[id] : std::string();
  }
  const DecodeRules* decode_rules() const override { return &rules_; }

 private:
  absl::Status Init(HfTokenizerSpec spec);
  absl::Status InitModel(HfTokenizerSpec* spec);
  void AssignAddedTokenIds(HfTokenizerSpec* spec) const;
  void EncodeSegment(std::string_view segment, bool at_start, std::vector<int32_t>* ids) const;
  void EncodeNormalized(std::string_view text, bool at_start, std::vector<int32_t>* ids) const;
  // Applies the normalizers; returns `text` itself when they leave it unchanged.
  std::string_view Normalize(std::string_view text, std::string* buffer) const;

  std::vector<HfNormalizerStep> normalizers_;
  std::vector<PreStep> pre_tokenizers_;
  bool byte_level_ = false;
  std::unique_ptr<BpeModel> model_;
  AddedTokenMatcher raw_added_, normalized_added_;
  std::vector<std::string> tokens_;
  std::vector<bool> special_;
  DecodeRules rules_;
  int bos_ = -1, eos_ = -1;
  std::vector<int32_t> prefix_, suffix_;
};

absl::StatusOr<std::unique_ptr<Tokenizer>> HfTokenizer::Create(HfTokenizerSpec spec) {
  auto tokenizer = std::make_unique<HfTokenizer>();
  RETURN_IF_ERROR(tokenizer->Init(std::move(spec)));
  return std::unique_ptr<Tokenizer>(std::move(tokenizer));
}

absl::Status HfTokenizer::InitModel(HfTokenizerSpec* spec) {
  for (size_t i = 0; i < spec->pre_tokenizers.size(); ++i) {
    const PreStep& p = spec->pre_tokenizers[i];
    byte_level_ |= p.kind == PreStep::Kind::kByteLevel;
    // Steps that rewrite the text (rather than only split it) must come first.
    const bool rewrites = p.kind == PreStep::Kind::kMetaspace ||
                          (p.kind == PreStep::Kind::kByteLevel && p.add_prefix_space);
    if (rewrites && i != 0) {
      return absl::UnimplementedError("tokenizer.json: a Metaspace or prefix-space ByteLevel "
                                      "pre-tokenizer that is not the first one");
    }
  }
  absl::flat_hash_map<std::string, int32_t> vocab;
  vocab.reserve(spec->vocab.size());
  std::string bytes;
  for (auto& [token, id] : spec->vocab) {
    if (id < 0) return absl::InvalidArgumentError("tokenizer.json: negative token id");
    if (static_cast<size_t>(id) >= tokens_.size()) tokens_.resize(id + 1);
    tokens_[id] = token;
    // Byte-level tokens outside the byte alphabet can never be produced by BPE; skip them.
    if (byte_level_ && !byte_level::ToBytes(token, &bytes)) continue;
    vocab.emplace(byte_level_ ? bytes : token, id);
  }
  BpeOptions options;
  options.byte_level = byte_level_;
  options.byte_fallback = spec->byte_fallback;
  options.ignore_merges = spec->ignore_merges;
  options.fuse_unk = spec->fuse_unk;
  if (spec->unk_token) {
    auto it = vocab.find(*spec->unk_token);
    if (it == vocab.end()) return absl::InvalidArgumentError("tokenizer.json: unk_token unknown");
    options.unk_id = it->second;
  }
  ASSIGN_OR_RETURN(model_, BpeModel::Create(std::move(vocab), spec->merges, options));
  return absl::OkStatus();
}

// tokenizers ignores the ids written in added_tokens: a token the model's vocabulary has takes
// that id, a repeated one its first id, any other the next id after the vocabulary and the
// tokens added so far. Consistent files are unchanged by this; others decode as tokenizers does.
void HfTokenizer::AssignAddedTokenIds(HfTokenizerSpec* spec) const {
  const int32_t model_size = static_cast<int32_t>(spec->vocab.size());
  absl::flat_hash_map<std::string, int32_t> added;
  int32_t max_added = -1;
  std::string bytes;
  for (HfAddedToken& t : spec->added_tokens) {
    const std::string& key = byte_level_ ? bytes : t.content;
    const bool convertible = !byte_level_ || byte_level::ToBytes(t.content, &bytes);
    auto in_vocab = convertible ? model_->vocab().find(key) : model_->vocab().end();
    auto seen = added.find(t.content);
    if (in_vocab != model_->vocab().end()) {
      t.id = in_vocab->second;
    } else if (seen != added.end()) {
      t.id = seen->second;
    } else {
      t.id = max_added >= model_size ? max_added + 1 : model_size;
    }
    added.emplace(t.content, t.id);
    max_added = std::max(max_added, t.id);
  }
}

absl::Status HfTokenizer::Init(HfTokenizerSpec spec) {
  normalizers_ = spec.normalizers;
  pre_tokenizers_ = spec.pre_tokenizers;
  RETURN_IF_ERROR(InitModel(&spec));
  if (!spec.keep_added_token_ids) AssignAddedTokenIds(&spec);
  std::vector<const HfAddedToken*> raw, normalized;
  for (const HfAddedToken& t : spec.added_tokens) {
    if (static_cast<size_t>(t.id) >= tokens_.size()) tokens_.resize(t.id + 1);
    tokens_[t.id] = t.content;
    (t.normalized && !normalizers_.empty() ? normalized : raw).push_back(&t);
  }
  special_.assign(tokens_.size(), false);
  for (const HfAddedToken& t : spec.added_tokens) special_[t.id] = t.special;
  raw_added_ = AddedTokenMatcher(raw);
  normalized_added_ = AddedTokenMatcher(normalized);
  ASSIGN_OR_RETURN(rules_, BuildHfDecodeRules(spec, tokens_, special_));

  auto find_id = [&](const std::optional<std::string>& content) -> int {
    if (!content) return -1;
    for (const HfAddedToken& t : spec.added_tokens) {
      if (t.content == *content) return t.id;
    }
    for (const auto& [token, id] : spec.vocab) {
      if (token == *content) return id;
    }
    return -1;
  };
  bos_ = find_id(spec.bos_token);
  eos_ = find_id(spec.eos_token);
  if (bos_ < 0 && !spec.bos_token && !spec.template_prefix.empty()) {
    bos_ = spec.template_prefix.front();
  }
  if (eos_ < 0 && !spec.eos_token && !spec.template_suffix.empty()) {
    eos_ = spec.template_suffix.back();
  }
  // tokenizer_config.json's add_bos_token / add_eos_token win over the template, as in
  // transformers, which rebuilds the post-processor from them.
  prefix_ = spec.template_prefix;
  suffix_ = spec.template_suffix;
  if (spec.add_bos_token) prefix_ = *spec.add_bos_token && bos_ >= 0 ? std::vector<int32_t>{bos_} : std::vector<int32_t>{};
  if (spec.add_eos_token) suffix_ = *spec.add_eos_token && eos_ >= 0 ? std::vector<int32_t>{eos_} : std::vector<int32_t>{};
  return absl::OkStatus();
}

std::string_view HfTokenizer::Normalize(std::string_view text, std::string* buffer) const {
  std::string_view current = text;
  for (const HfNormalizerStep& n : normalizers_) {
    switch (n.kind) {
      case HfNormalizerStep::Kind::kNfc:
        if (unicode::IsNfcQuick(current)) continue;
        *buffer = unicode::ToNfc(current);
        break;
      case HfNormalizerStep::Kind::kPrepend:
        if (current.empty()) continue;
        *buffer = absl::StrCat(n.text, utf8::AsAbsl(current));
        break;
      case HfNormalizerStep::Kind::kReplace:
        if (current.find(n.text) == std::string_view::npos) continue;
        *buffer = absl::StrReplaceAll(utf8::AsAbsl(current), {{n.text, n.replacement}});
        break;
    }
    current = *buffer;
  }
  return current;
}

void HfTokenizer::EncodeSegment(std::string_view segment, bool at_start,
                                std::vector<int32_t>* ids) const {
  std::string buffer;
  const std::string_view normalized = Normalize(segment, &buffer);
  if (normalized_added_.empty()) {
    EncodeNormalized(normalized, at_start, ids);
    return;
  }
  normalized_added_.Split(normalized, [&](int32_t id, size_t begin, size_t end) {
    if (id >= 0) {
      ids->push_back(id);
    } else {
      EncodeNormalized(normalized.substr(begin, end - begin), at_start && begin == 0, ids);
    }
  });
}

void HfTokenizer::EncodeNormalized(std::string_view text, bool at_start,
                                   std::vector<int32_t>* ids) const {
  thread_local std::vector<Span> spans, refined;
  spans.assign(1, Span(0, static_cast<uint32_t>(text.size())));
  std::string buffer;
  for (const PreStep& p : pre_tokenizers_) {
    if (p.kind == PreStep::Kind::kMetaspace) {
      text = ApplyMetaspace(p, text, at_start, &buffer, &spans);
      continue;
    }
    if (p.kind == PreStep::Kind::kByteLevel && p.add_prefix_space && !text.empty() &&
        text[0] != ' ') {
      buffer = absl::StrCat(" ", utf8::AsAbsl(text));
      text = buffer;
      spans.assign(1, Span(0, static_cast<uint32_t>(text.size())));
    }
    if (p.kind == PreStep::Kind::kSplit || (p.kind == PreStep::Kind::kByteLevel && p.use_regex)) {
      refined.clear();
      for (const Span& s : spans) {
        SplitByPattern(p.pattern, text.substr(s.first, s.second - s.first), s.first, &refined);
      }
      spans.swap(refined);
    }
  }
  for (const Span& s : spans) model_->Encode(text.substr(s.first, s.second - s.first), ids);
}

// Metaspace: spaces become the replacement, which is prepended per the scheme; with `split`,
// pieces start at each replacement (tokenizers' MergedWithNext). Returns the new text.
std::string_view ApplyMetaspace(const PreStep& p, std::string_view text, bool at_start,
                                std::string* buffer, std::vector<Span>* spans) {
  *buffer = absl::StrReplaceAll(utf8::AsAbsl(text), {{" ", p.replacement}});
  const bool prepend = p.prepend == PreStep::Prepend::kAlways ||
                       (p.prepend == PreStep::Prepend::kFirst && at_start);
  if (prepend && buffer->compare(0, p.replacement.size(), p.replacement) != 0) {
    buffer->insert(0, p.replacement);
  }
  text = *buffer;
  spans->assign(1, Span(0, static_cast<uint32_t>(text.size())));
  if (!p.split) return text;
  spans->clear();
  size_t begin = 0;
  for (size_t at = text.find(p.replacement, 1); at != std::string_view::npos;
       at = text.find(p.replacement, at + 1)) {
    spans->emplace_back(begin, at);
    begin = at;
  }
  if (begin < text.size()) spans->emplace_back(begin, text.size());
  return text;
}

absl::StatusOr<std::vector<int32_t>> HfTokenizer::Encode(std::string_view text,
                                                         bool add_special_tokens) const {
  const size_t bad = utf8::FindInvalid(text);
  if (bad != std::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat("text is not valid UTF-8 at byte ", bad));
  }
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  if (add_special_tokens) ids.insert(ids.end(), prefix_.begin(), prefix_.end());
  raw_added_.Split(text, [&](int32_t id, size_t begin, size_t end) {
    if (id >= 0) {
      ids.push_back(id);
    } else {
      EncodeSegment(text.substr(begin, end - begin), begin == 0, &ids);
    }
  });
  if (add_special_tokens) ids.insert(ids.end(), suffix_.begin(), suffix_.end());
  return ids;
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Tokenizer>> CreateHfTokenizer(HfTokenizerSpec spec) {
  return HfTokenizer::Create(std::move(spec));
}

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadGgufTokenizer(const std::string& gguf_path) {
  ASSIGN_OR_RETURN(HfTokenizerSpec spec, ReadGgufVocab(gguf_path));
  return CreateHfTokenizer(std::move(spec));
}

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadHfTokenizer(const std::string& tokenizer_json_path,
                                                           const std::string& config_path) {
  ASSIGN_OR_RETURN(std::string json, ReadFile(tokenizer_json_path));
  std::string config;
  if (!config_path.empty()) {
    std::ifstream probe(config_path);
    if (probe) {
      ASSIGN_OR_RETURN(config, ReadFile(config_path));
    }
  }
  ASSIGN_OR_RETURN(HfTokenizerSpec spec, ParseHfTokenizerSpec(json, config));
  return CreateHfTokenizer(std::move(spec));
}

}  // namespace corvid
