// Maps the tokenizers decoder chains we support onto DecodeRules:
//   ByteLevel                                   (GPT-2, Llama 3, Qwen2)
//   [Replace(▁→' ') | Metaspace] [ByteFallback] [Fuse] [Strip(' ', 1, 0)]   (Llama 2, Mistral)
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "engine/tokenizer/byte_level.h"
#include "engine/tokenizer/hf_tokenizer.h"

namespace corvid {
namespace {

using Step = HfDecoderStep;

// "<0xAB>" -> 0xAB, or -1 (tokenizers' ByteFallback accepts exactly this shape).
int ParseByteToken(const std::string& t) {
  if (t.size() != 6 || t.compare(0, 3, "<0x") != 0 || t[5] != '>') return -1;
  int v = 0;
  for (int i = 3; i < 5; ++i) {
    const char c = t[i];
    const int d = c >= '0' && c <= '9'   ? c - '0'
                  : c >= 'A' && c <= 'F' ? c - 'A' + 10
                  : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                         : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

absl::StatusOr<DecodeRules> ByteLevelRules(const std::vector<std::string>& tokens,
                                           const std::vector<bool>& special) {
  DecodeRules rules;
  rules.utf8 = DecodeRules::Utf8::kLossyStream;
  rules.pieces.resize(tokens.size());
  for (size_t id = 0; id < tokens.size(); ++id) {
    DecodeRules::Piece& p = rules.pieces[id];
    // A token with code points outside the byte alphabet (an added token such as
    // "<|im_start|>" qualifies only if all its characters are inside) decodes as itself.
    if (!byte_level::ToBytes(tokens[id], &p.text)) p.text = tokens[id];
    p.special = special[id];
  }
  return rules;
}

}  // namespace

absl::StatusOr<DecodeRules> BuildHfDecodeRules(const HfTokenizerSpec& spec,
                                               const std::vector<std::string>& tokens,
                                               const std::vector<bool>& special) {
  const auto& steps = spec.decoders;
  if (steps.size() == 1 && steps[0].kind == Step::Kind::kByteLevel) {
    return ByteLevelRules(tokens, special);
  }
  size_t i = 0;
  std::string space_symbol;  // replaced by ' '
  bool metaspace_first = false;
  if (i < steps.size() && steps[i].kind == Step::Kind::kReplace && steps[i].content == " ") {
    space_symbol = steps[i++].pattern;
  } else if (i < steps.size() && steps[i].kind == Step::Kind::kMetaspace) {
    space_symbol = steps[i].replacement;
    metaspace_first = steps[i++].prepend;
  }
  bool byte_fallback = false, fuse = false, strip = false;
  auto take = [&](Step::Kind kind) {
    const bool found = i < steps.size() && steps[i].kind == kind;
    if (found) ++i;
    return found;
  };
  byte_fallback = take(Step::Kind::kByteFallback);
  fuse = take(Step::Kind::kFuse);
  // Strip(' ', 1, 0) after Fuse removes the first character of the whole text if a space.
  if (fuse && i < steps.size() && steps[i].content == " " && steps[i].start == 1 &&
      steps[i].stop == 0) {
    strip = take(Step::Kind::kStrip);
  }
  if (i != steps.size() || space_symbol.empty() || (strip && metaspace_first)) {
    return absl::UnimplementedError(
        absl::StrCat("tokenizer.json: unsupported decoder chain (step ", i, " of ",
                     steps.size(), ")"));
  }
  DecodeRules rules;
  rules.utf8 = DecodeRules::Utf8::kByteRunStrict;
  rules.leading = strip             ? DecodeRules::LeadingSpace::kStripFirstOutputSpace
                  : metaspace_first ? DecodeRules::LeadingSpace::kFirstPiece
                                    : DecodeRules::LeadingSpace::kKeep;
  rules.pieces.resize(tokens.size());
  for (size_t id = 0; id < tokens.size(); ++id) {
    DecodeRules::Piece& p = rules.pieces[id];
    p.special = special[id];
    const int byte = byte_fallback ? ParseByteToken(tokens[id]) : -1;
    if (byte >= 0) {
      p.kind = DecodeRules::Kind::kByte;
      p.byte = static_cast<uint8_t>(byte);
      continue;
    }
    p.text = absl::StrReplaceAll(tokens[id], {{space_symbol, " "}});
    // tokenizers' Metaspace decoder drops every ▁ of the first token, not just a leading one.
    if (metaspace_first && tokens[id].find(space_symbol) != std::string::npos) {
      p.first_text = absl::StrReplaceAll(tokens[id], {{space_symbol, ""}});
      p.has_first_text = true;
    }
  }
  return rules;
}

}  // namespace corvid
