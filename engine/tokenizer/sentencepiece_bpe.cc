// sentencepiece's BPE merges, at every step, the adjacent pair whose concatenation is the
// vocabulary piece with the highest score, leftmost first. As merges ranked by that score
// (equal scores, equal ranks) this is exactly BpeModel's rule. Characters missing from the
// vocabulary become byte pieces. The identity normalizer only trims/collapses spaces, adds the
// dummy-prefix ▁ and turns spaces into ▁.
#include "engine/tokenizer/sentencepiece_bpe.h"

#include <algorithm>
#include <cstring>
#include <tuple>

#include "engine/tokenizer/utf8.h"

namespace corvid {
namespace {

constexpr char kSpace[] = "\xE2\x96\x81";  // ▁
constexpr size_t kSpaceLen = 3;

bool StartsWithSpace(std::string_view s, size_t i) {
  return s.size() - i >= kSpaceLen && std::memcmp(s.data() + i, kSpace, kSpaceLen) == 0;
}

// True when ▁ appears in `piece` only as a leading run, so that no piece spans the boundary
// between a non-▁ character and a following ▁: words can then be encoded independently.
bool SpaceOnlyLeading(std::string_view piece) {
  size_t i = 0;
  while (StartsWithSpace(piece, i)) i += kSpaceLen;
  return piece.find(kSpace, i) == std::string_view::npos;
}

}  // namespace

std::unique_ptr<SentencePieceBpe> SentencePieceBpe::Create(const spm::ModelInfo& info) {
  if (info.model_type != 2 || !info.byte_fallback || info.has_user_defined ||
      info.has_precompiled_charsmap || !info.escape_whitespaces ||
      info.treat_whitespace_as_suffix || info.scores.size() != info.pieces.size()) {
    return nullptr;
  }
  absl::flat_hash_map<std::string, int32_t> vocab;
  for (size_t id = 0; id < info.pieces.size(); ++id) {
    const spm::PieceType type = info.types[id];
    if (type == spm::PieceType::kUnused) return nullptr;  // would need re-segmentation
    if (type == spm::PieceType::kNormal && !SpaceOnlyLeading(info.pieces[id])) return nullptr;
    if (type == spm::PieceType::kNormal || type == spm::PieceType::kByte) {
      vocab.emplace(info.pieces[id], static_cast<int32_t>(id));
    }
  }
  // Every split of a normal piece into two normal pieces is a merge scored by the piece.
  std::vector<std::tuple<float, int32_t, std::string, std::string>> candidates;
  for (size_t id = 0; id < info.pieces.size(); ++id) {
    if (info.types[id] != spm::PieceType::kNormal) continue;
    const std::string& p = info.pieces[id];
    for (size_t k = utf8::LeadLength(p[0]); k < p.size(); k += utf8::LeadLength(p[k])) {
      auto a = vocab.find(p.substr(0, k)), b = vocab.find(p.substr(k));
      if (a == vocab.end() || b == vocab.end()) continue;
      if (info.types[a->second] != spm::PieceType::kNormal ||
          info.types[b->second] != spm::PieceType::kNormal) {
        continue;
      }
      candidates.emplace_back(-info.scores[id], static_cast<int32_t>(id), a->first, b->first);
    }
  }
  std::sort(candidates.begin(), candidates.end());
  std::vector<std::pair<std::string, std::string>> merges;
  std::vector<int32_t> ranks;
  int32_t rank = -1;
  for (size_t i = 0; i < candidates.size(); ++i) {
    if (i == 0 || std::get<0>(candidates[i]) != std::get<0>(candidates[i - 1])) ++rank;
    merges.emplace_back(std::move(std::get<2>(candidates[i])), std::move(std::get<3>(candidates[i])));
    ranks.push_back(rank);
  }
  BpeOptions options;
  options.byte_fallback = true;
  options.unk_id = info.unk_id;
  auto bpe = BpeModel::Create(std::move(vocab), merges, options, &ranks);
  if (!bpe.ok()) return nullptr;
  std::unique_ptr<SentencePieceBpe> encoder(new SentencePieceBpe());
  encoder->bpe_ = std::move(*bpe);
  encoder->add_dummy_prefix_ = info.add_dummy_prefix;
  encoder->remove_extra_whitespaces_ = info.remove_extra_whitespaces;
  return encoder;
}

void SentencePieceBpe::Encode(std::string_view text, std::vector<int32_t>* ids) const {
  if (remove_extra_whitespaces_) {
    while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  }
  if (text.empty()) return;
  thread_local std::string normalized;
  normalized.clear();
  if (add_dummy_prefix_) normalized.append(kSpace);
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != ' ') {
      normalized.push_back(text[i]);
    } else if (!remove_extra_whitespaces_ || text[i - 1] != ' ') {  // i > 0 after trimming
      normalized.append(kSpace);
    }
  }
  // Words: a run of ▁ and the characters up to the next ▁ that follows a non-▁ character.
  const std::string_view s = normalized;
  size_t begin = 0, i = 0;
  bool seen_other = false;
  while (i < s.size()) {
    if (StartsWithSpace(s, i)) {
      if (seen_other) {
        bpe_->Encode(s.substr(begin, i - begin), ids);
        begin = i;
        seen_other = false;
      }
      i += kSpaceLen;
    } else {
      seen_other = true;
      i += utf8::LeadLength(static_cast<unsigned char>(s[i]));
    }
  }
  bpe_->Encode(s.substr(begin), ids);
}

}  // namespace corvid
