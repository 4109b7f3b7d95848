// Native encoder for SentencePiece BPE models (Llama 2, tok512): the same segmentation as
// libsentencepiece, several times faster, because the text splits into ▁-words that can be
// merged and cached independently and merges are looked up by id pairs.
#ifndef CORVID_ENGINE_TOKENIZER_SENTENCEPIECE_BPE_H_
#define CORVID_ENGINE_TOKENIZER_SENTENCEPIECE_BPE_H_

#include <memory>
#include <string_view>
#include <vector>

#include "engine/tokenizer/bpe_model.h"
#include "engine/tokenizer/sentencepiece_model.h"

namespace corvid {

class SentencePieceBpe {
 public:
  // nullptr when the model uses anything this encoder does not reproduce exactly (unigram,
  // a normalization charsmap, user-defined or unused pieces, no byte fallback, pieces with ▁
  // after other characters...); the caller then encodes with libsentencepiece.
  static std::unique_ptr<SentencePieceBpe> Create(const spm::ModelInfo& info);

  // Appends the ids of valid UTF-8 `text` (no bos/eos).
  void Encode(std::string_view text, std::vector<int32_t>* ids) const;

 private:
  SentencePieceBpe() = default;
  std::unique_ptr<BpeModel> bpe_;
  bool add_dummy_prefix_ = true;
  bool remove_extra_whitespaces_ = true;
};

}  // namespace corvid

#endif  // CORVID_ENGINE_TOKENIZER_SENTENCEPIECE_BPE_H_
