#include "engine/tokenizer/streaming_detokenizer.h"

#include "absl/strings/str_cat.h"
#include "engine/tokenizer/utf8.h"

namespace corvid {

absl::StatusOr<StreamingDetokenizer> StreamingDetokenizer::Create(const Tokenizer& tokenizer,
                                                                  bool skip_special_tokens) {
  const DecodeRules* rules = tokenizer.decode_rules();
  if (rules == nullptr) {
    return absl::FailedPreconditionError("this tokenizer exposes no decode rules to stream with");
  }
  return StreamingDetokenizer(*rules, skip_special_tokens);
}

absl::Status StreamingDetokenizer::Add(absl::Span<const int32_t> ids, std::string* out) {
  const int64_t n = static_cast<int64_t>(rules_->pieces.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= n) {
      return absl::InvalidArgumentError(absl::StrCat("token id ", ids[i], " at index ", i,
                                                     " is out of range [0, ", n, ")"));
    }
    Step(rules_->pieces[ids[i]], out);
  }
  return absl::OkStatus();
}

void StreamingDetokenizer::Step(const DecodeRules::Piece& piece, std::string* out) {
  using Kind = DecodeRules::Kind;
  if (skip_special_ && piece.special) return;  // removed before any decoder runs
  const bool first = !started_;
  started_ = true;
  if (piece.kind == Kind::kByte && rules_->utf8 != DecodeRules::Utf8::kLossyStream) {
    pending_.push_back(static_cast<char>(piece.byte));
    if (rules_->utf8 == DecodeRules::Utf8::kByteRunPerByte) DrainPerByte(false, out);
    return;
  }
  // A non-byte piece ends the current byte run.
  if (rules_->utf8 == DecodeRules::Utf8::kByteRunStrict) FlushStrictRun(out);
  if (rules_->utf8 == DecodeRules::Utf8::kByteRunPerByte) DrainPerByte(true, out);

  std::string_view text = piece.kind == Kind::kByte
                              ? std::string_view(reinterpret_cast<const char*>(&piece.byte), 1)
                              : std::string_view(piece.text);
  switch (rules_->leading) {
    case DecodeRules::LeadingSpace::kFirstPiece:
      if (first && piece.has_first_text) text = piece.first_text;
      break;
    case DecodeRules::LeadingSpace::kSentencePiece:
      // sentencepiece: the beginning lasts until text was output or a piece gave up its ▁.
      if (sp_bos_ws_seen_ || emitted_) sp_is_bos_ws_ = false;
      if (piece.kind == Kind::kInvisible) {
        sp_bos_ws_seen_ = false;
        return;
      }
      if (sp_is_bos_ws_ && rules_->sp_strip_allowed) {
        if (piece.has_first_text) text = piece.first_text;
        sp_bos_ws_seen_ = piece.sp_bos_space && !rules_->sp_remove_extra_whitespaces;
      } else {
        sp_bos_ws_seen_ = false;
      }
      break;
    default:
      break;
  }
  if (piece.kind == Kind::kInvisible) return;
  if (rules_->utf8 == DecodeRules::Utf8::kLossyStream) {
    pending_.append(text);
    DrainLossy(false, out);
  } else {
    Emit(text, out);
  }
}

void StreamingDetokenizer::Emit(std::string_view text, std::string* out) {
  if (text.empty()) return;
  if (!emitted_ && rules_->leading == DecodeRules::LeadingSpace::kStripFirstOutputSpace &&
      text[0] == ' ') {
    text.remove_prefix(1);
  }
  emitted_ = true;
  out->append(text);
}

void StreamingDetokenizer::DrainLossy(bool final, std::string* out) {
  const auto* p = reinterpret_cast<const unsigned char*>(pending_.data());
  const size_t n = pending_.size();
  std::string text;
  size_t i = 0, clean = 0;  // pending_[clean, i) is valid and not yet copied
  while (i < n) {
    if (p[i] < 0x80) {
      ++i;
      continue;
    }
    const utf8::Seq seq = utf8::Classify(p + i, n - i);
    if (seq.kind == utf8::SeqKind::kValid) {
      i += seq.length;
      continue;
    }
    if (seq.kind == utf8::SeqKind::kTruncated && !final) break;
    text.append(pending_, clean, i - clean);
    text.append(utf8::kReplacement);
    i += seq.length;
    clean = i;
  }
  if (clean == 0 && i == n) {
    Emit(pending_, out);
    pending_.clear();
    return;
  }
  text.append(pending_, clean, i - clean);
  Emit(text, out);
  pending_.erase(0, i);
}

void StreamingDetokenizer::DrainPerByte(bool final, std::string* out) {
  const auto* p = reinterpret_cast<const unsigned char*>(pending_.data());
  const size_t n = pending_.size();
  std::string text;
  size_t i = 0;
  while (i < n) {
    const utf8::Seq seq = utf8::Classify(p + i, n - i);
    if (seq.kind == utf8::SeqKind::kValid) {
      text.append(pending_, i, seq.length);
      i += seq.length;
      continue;
    }
    if (seq.kind == utf8::SeqKind::kTruncated && !final) break;
    text.append(utf8::kReplacement);  // one per byte, then resynchronise
    ++i;
  }
  Emit(text, out);
  pending_.erase(0, i);
}

void StreamingDetokenizer::FlushStrictRun(std::string* out) {
  if (pending_.empty()) return;
  if (utf8::IsValid(pending_)) {
    Emit(pending_, out);
  } else {
    std::string text;
    for (size_t i = 0; i < pending_.size(); ++i) text.append(utf8::kReplacement);
    Emit(text, out);
  }
  pending_.clear();
}

void StreamingDetokenizer::Finish(std::string* out) {
  switch (rules_->utf8) {
    case DecodeRules::Utf8::kLossyStream:
      DrainLossy(true, out);
      break;
    case DecodeRules::Utf8::kByteRunStrict:
      FlushStrictRun(out);
      break;
    case DecodeRules::Utf8::kByteRunPerByte:
      DrainPerByte(true, out);
      break;
  }
  pending_.clear();
  started_ = emitted_ = sp_bos_ws_seen_ = false;
  sp_is_bos_ws_ = true;
}

absl::StatusOr<std::string> DecodeWithRules(const DecodeRules& rules,
                                            absl::Span<const int32_t> ids,
                                            bool skip_special_tokens) {
  StreamingDetokenizer detok(rules, skip_special_tokens);
  std::string out;
  absl::Status status = detok.Add(ids, &out);
  if (!status.ok()) return status;
  detok.Finish(&out);
  return out;
}

}  // namespace corvid
