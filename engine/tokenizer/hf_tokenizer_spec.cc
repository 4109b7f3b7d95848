// tokenizer.json / tokenizer_config.json -> HfTokenizerSpec. nlohmann::json exceptions stay in
// this file: every entry point catches them and returns INVALID_ARGUMENT.
#include "engine/tokenizer/hf_tokenizer_spec.h"

#include "absl/strings/str_cat.h"
#include "engine/status_macros.h"
#include "nlohmann/json.hpp"

namespace corvid {
namespace {

using Json = nlohmann::json;

absl::Status Unsupported(const std::string& what, const Json& j) {
  return absl::UnimplementedError(absl::StrCat("tokenizer.json: unsupported ", what, ": ",
                                               j.dump().substr(0, 200)));
}

// Builds the DOM of everything except model.vocab and model.merges, which stream straight
// into the spec: the two hold ~99% of a 10 MB tokenizer.json, and a DOM of them (a std::map of
// 150k entries, 300k strings) would dominate load time.
class SpecSax : public nlohmann::json_sax<Json> {
 public:
  SpecSax(Json* root, HfTokenizerSpec* spec) : dom_(*root, true), spec_(spec) {}

  bool null() override { return capture_ ? true : dom_.null(); }
  bool boolean(bool v) override { return capture_ ? true : dom_.boolean(v); }
  bool number_integer(number_integer_t v) override {
    if (capture_ == kVocab) return AddVocab(v);
    return capture_ ? true : dom_.number_integer(v);
  }
  bool number_unsigned(number_unsigned_t v) override {
    if (capture_ == kVocab) return AddVocab(static_cast<int64_t>(v));
    return capture_ ? true : dom_.number_unsigned(v);
  }
  bool number_float(number_float_t v, const string_t& s) override {
    return capture_ ? true : dom_.number_float(v, s);
  }
  bool string(string_t& v) override {
    if (capture_ == kMerges) return AddMergePart(std::move(v));
    return capture_ ? true : dom_.string(v);
  }
  bool binary(binary_t& v) override { return capture_ ? true : dom_.binary(v); }
  bool key(string_t& k) override {
    if (capture_ == kVocab) {
      pending_key_ = std::move(k);
      return true;
    }
    if (capture_) return true;
    if (depth_ <= 2) keys_[depth_] = k;
    return dom_.key(k);
  }
  bool start_object(std::size_t n) override { return Open(/*array=*/false, n); }
  bool start_array(std::size_t n) override { return Open(/*array=*/true, n); }
  bool end_object() override { return Close(/*array=*/false); }
  bool end_array() override { return Close(/*array=*/true); }
  bool parse_error(std::size_t pos, const std::string& token,
                   const nlohmann::detail::exception& e) override {
    return dom_.parse_error(pos, token, e);
  }

 private:
  enum Capture { kNone, kVocab, kMerges };

  bool Open(bool array, std::size_t n) {
    ++depth_;
    if (capture_) {
      ++capture_depth_;
      pair_.clear();
      return true;
    }
    // model.vocab (an object) and model.merges (an array) sit at depth 3.
    if (depth_ == 3 && keys_[1] == "model" && (keys_[2] == "vocab" || keys_[2] == "merges")) {
      capture_ = keys_[2] == "vocab" ? kVocab : kMerges;
      capture_depth_ = 1;
      return dom_.null();  // the DOM keeps a placeholder
    }
    return array ? dom_.start_array(n) : dom_.start_object(n);
  }
  bool Close(bool array) {
    --depth_;
    if (capture_) {
      if (capture_ == kMerges && capture_depth_ == 2) {  // end of a ["a", "b"] pair
        if (pair_.size() != 2) return false;
        spec_->merges.emplace_back(std::move(pair_[0]), std::move(pair_[1]));
      }
      if (--capture_depth_ == 0) capture_ = kNone;
      return true;
    }
    return array ? dom_.end_array() : dom_.end_object();
  }
  bool AddVocab(int64_t id) {
    spec_->vocab.emplace_back(std::move(pending_key_), static_cast<int32_t>(id));
    return true;
  }
  bool AddMergePart(std::string s) {
    if (capture_depth_ == 2) {
      pair_.push_back(std::move(s));
      return true;
    }
    const size_t space = s.find(' ', 1);  // "a b"
    if (space == std::string::npos) return false;
    spec_->merges.emplace_back(s.substr(0, space), s.substr(space + 1));
    return true;
  }

  nlohmann::detail::json_sax_dom_parser<Json> dom_;
  HfTokenizerSpec* spec_;
  int depth_ = 0;
  std::string keys_[3];
  Capture capture_ = kNone;
  int capture_depth_ = 0;
  std::string pending_key_;
  std::vector<std::string> pair_;
};

bool GetBool(const Json& j, const char* key, bool fallback) {
  auto it = j.find(key);
  return it == j.end() || it->is_null() ? fallback : it->get<bool>();
}

// A token given as "text" or as {"content": "text", ...}.
std::optional<std::string> TokenContent(const Json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_object() && j.contains("content")) return j["content"].get<std::string>();
  return std::nullopt;
}

// Flattens {"type": "Sequence", <list_key>: [...]} into its elements.
std::vector<const Json*> Flatten(const Json& j, const char* list_key) {
  std::vector<const Json*> out;
  if (j.is_null()) return out;
  if (j.value("type", "") == "Sequence") {
    for (const Json& e : j.at(list_key)) {
      for (const Json* f : Flatten(e, list_key)) out.push_back(f);
    }
  } else {
    out.push_back(&j);
  }
  return out;
}

absl::Status ParseNormalizers(const Json& j, HfTokenizerSpec* spec) {
  for (const Json* n : Flatten(j, "normalizers")) {
    const std::string type = n->value("type", "");
    if (type == "NFC") {
      spec->normalizers.push_back({HfNormalizerStep::Kind::kNfc, "", ""});
    } else if (type == "Prepend") {
      spec->normalizers.push_back({HfNormalizerStep::Kind::kPrepend, n->at("prepend"), ""});
    } else if (type == "Replace" && n->at("pattern").contains("String")) {
      spec->normalizers.push_back({HfNormalizerStep::Kind::kReplace,
                                   n->at("pattern").at("String"), n->at("content")});
    } else {
      return Unsupported("normalizer", *n);
    }
  }
  return absl::OkStatus();
}

absl::Status ParsePreTokenizers(const Json& j, HfTokenizerSpec* spec) {
  for (const Json* p : Flatten(j, "pretokenizers")) {
    const std::string type = p->value("type", "");
    HfPreTokenizerStep step;
    if (type == "Split") {
      if (!p->at("pattern").contains("Regex") || p->value("behavior", "") != "Isolated" ||
          GetBool(*p, "invert", false)) {
        return Unsupported("Split pre-tokenizer (only Isolated regex splits are)", *p);
      }
      step.kind = HfPreTokenizerStep::Kind::kSplit;
      ASSIGN_OR_RETURN(step.pattern,
                       SplitPatternFromRegex(p->at("pattern").at("Regex").get<std::string>()));
    } else if (type == "ByteLevel") {
      step.kind = HfPreTokenizerStep::Kind::kByteLevel;
      step.use_regex = GetBool(*p, "use_regex", true);
      step.add_prefix_space = GetBool(*p, "add_prefix_space", true);
    } else if (type == "Metaspace") {
      step.kind = HfPreTokenizerStep::Kind::kMetaspace;
      step.replacement = p->value("replacement", "\u2581");
      step.split = GetBool(*p, "split", true);
      const std::string scheme = p->value("prepend_scheme", "");
      if (scheme == "first") {
        step.prepend = HfPreTokenizerStep::Prepend::kFirst;
      } else if (scheme == "never") {
        step.prepend = HfPreTokenizerStep::Prepend::kNever;
      } else if (scheme.empty() && !GetBool(*p, "add_prefix_space", true)) {
        step.prepend = HfPreTokenizerStep::Prepend::kNever;
      }
    } else {
      return Unsupported("pre-tokenizer", *p);
    }
    spec->pre_tokenizers.push_back(step);
  }
  return absl::OkStatus();
}

absl::Status ParseDecoders(const Json& j, HfTokenizerSpec* spec) {
  for (const Json* d : Flatten(j, "decoders")) {
    const std::string type = d->value("type", "");
    HfDecoderStep step;
    if (type == "ByteLevel") {
      step.kind = HfDecoderStep::Kind::kByteLevel;
    } else if (type == "Replace" && d->at("pattern").contains("String")) {
      step.kind = HfDecoderStep::Kind::kReplace;
      step.pattern = d->at("pattern").at("String");
      step.content = d->at("content");
    } else if (type == "ByteFallback") {
      step.kind = HfDecoderStep::Kind::kByteFallback;
    } else if (type == "Fuse") {
      step.kind = HfDecoderStep::Kind::kFuse;
    } else if (type == "Strip") {
      step.kind = HfDecoderStep::Kind::kStrip;
      step.content = d->at("content");
      step.start = d->at("start");
      step.stop = d->at("stop");
    } else if (type == "Metaspace") {
      step.kind = HfDecoderStep::Kind::kMetaspace;
      step.replacement = d->value("replacement", "\u2581");
      step.prepend = d->value("prepend_scheme", "always") != "never" &&
                     GetBool(*d, "add_prefix_space", true);
    } else {
      return Unsupported("decoder", *d);
    }
    spec->decoders.push_back(step);
  }
  if (spec->decoders.empty()) return Unsupported("missing decoder", j);
  return absl::OkStatus();
}

absl::Status ParseModel(const Json& m, HfTokenizerSpec* spec) {
  if (m.value("type", "BPE") != "BPE") return Unsupported("model (only BPE is)", m["type"]);
  if (m.contains("dropout") && !m["dropout"].is_null() && m["dropout"].get<double>() != 0.0) {
    return Unsupported("BPE dropout", m["dropout"]);
  }
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (m.contains(key) && !m[key].is_null() && !m[key].get<std::string>().empty()) {
      return Unsupported(key, m[key]);
    }
  }
  if (m.contains("unk_token") && !m["unk_token"].is_null()) spec->unk_token = m["unk_token"];
  spec->fuse_unk = GetBool(m, "fuse_unk", false);
  spec->byte_fallback = GetBool(m, "byte_fallback", false);
  spec->ignore_merges = GetBool(m, "ignore_merges", false);
  // vocab and merges were streamed into the spec by SpecSax.
  if (spec->vocab.empty()) return Unsupported("BPE model without a vocabulary", m);
  return absl::OkStatus();
}

absl::Status ParsePostProcessor(const Json& j, HfTokenizerSpec* spec) {
  for (const Json* p : Flatten(j, "processors")) {
    const std::string type = p->value("type", "");
    if (type == "ByteLevel") continue;  // offsets only
    if (type != "TemplateProcessing") return Unsupported("post_processor", *p);
    spec->has_template = true;
    bool after_sequence = false;
    for (const Json& piece : p->at("single")) {
      if (piece.contains("Sequence")) {
        after_sequence = true;
        continue;
      }
      const std::string name = piece.at("SpecialToken").at("id");
      for (const Json& id : p->at("special_tokens").at(name).at("ids")) {
        (after_sequence ? spec->template_suffix : spec->template_prefix).push_back(id);
      }
    }
  }
  return absl::OkStatus();
}

absl::Status ParseConfig(const Json& c, HfTokenizerSpec* spec) {
  if (c.contains("bos_token")) spec->bos_token = TokenContent(c["bos_token"]);
  if (c.contains("eos_token")) spec->eos_token = TokenContent(c["eos_token"]);
  if (c.contains("add_bos_token") && c["add_bos_token"].is_boolean()) {
    spec->add_bos_token = c["add_bos_token"].get<bool>();
  }
  if (c.contains("add_eos_token") && c["add_eos_token"].is_boolean()) {
    spec->add_eos_token = c["add_eos_token"].get<bool>();
  }
  return absl::OkStatus();
}

absl::Status ParseAll(const Json& j, HfTokenizerSpec* spec) {
  for (const Json& t : j.at("added_tokens")) {
    HfAddedToken a;
    a.id = t.at("id");
    a.content = t.at("content");
    a.single_word = GetBool(t, "single_word", false);
    a.lstrip = GetBool(t, "lstrip", false);
    a.rstrip = GetBool(t, "rstrip", false);
    a.normalized = GetBool(t, "normalized", true);
    a.special = GetBool(t, "special", false);
    spec->added_tokens.push_back(std::move(a));
  }
  RETURN_IF_ERROR(ParseNormalizers(j.at("normalizer"), spec));
  RETURN_IF_ERROR(ParsePreTokenizers(j.at("pre_tokenizer"), spec));
  RETURN_IF_ERROR(ParseDecoders(j.at("decoder"), spec));
  RETURN_IF_ERROR(ParsePostProcessor(j.at("post_processor"), spec));
  return ParseModel(j.at("model"), spec);
}

}  // namespace

absl::StatusOr<HfTokenizerSpec> ParseHfTokenizerSpec(const std::string& tokenizer_json,
                                                     const std::string& config_json) {
  HfTokenizerSpec spec;
  const char* stage = "tokenizer.json";
  try {
    Json root;
    SpecSax sax(&root, &spec);
    if (!Json::sax_parse(tokenizer_json, &sax)) {
      return absl::InvalidArgumentError("tokenizer.json: malformed model.vocab or model.merges");
    }
    RETURN_IF_ERROR(ParseAll(root, &spec));
    if (!config_json.empty()) {
      stage = "tokenizer_config.json";
      RETURN_IF_ERROR(ParseConfig(Json::parse(config_json), &spec));
    }
  } catch (const Json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(stage, ": ", e.what()));
  }
  return spec;
}

}  // namespace corvid
