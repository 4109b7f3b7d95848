// Text <-> token ids. One interface for SentencePiece models and Hugging Face tokenizer.json.
#ifndef CORVID_ENGINE_TOKENIZER_TOKENIZER_H_
#define CORVID_ENGINE_TOKENIZER_TOKENIZER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace corvid {

struct DecodeRules;  // engine/tokenizer/decode_rules.h

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // INVALID_ARGUMENT for invalid UTF-8. add_special_tokens adds bos/eos as the model's
  // tokenizer_config.json says.
  virtual absl::StatusOr<std::vector<int32_t>> Encode(std::string_view text,
                                                      bool add_special_tokens) const = 0;
  // INVALID_ARGUMENT naming the index of an out-of-range id.
  virtual absl::StatusOr<std::string> Decode(absl::Span<const int32_t> ids,
                                             bool skip_special_tokens) const = 0;
  virtual int vocab_size() const = 0;
  virtual int bos_id() const = 0;  // -1 when none
  virtual int eos_id() const = 0;  // -1 when none
  virtual bool IsSpecial(int32_t id) const = 0;
  virtual std::string IdToPiece(int32_t id) const = 0;
  // The rules Decode follows, for StreamingDetokenizer (streaming_detokenizer.h); nullptr when
  // the implementation cannot stream.
  virtual const DecodeRules* decode_rules() const { return nullptr; }
};

// Picks the implementation from what `model_dir` holds: tokenizer.json first, else
// tokenizer.model, else a single *.gguf vocabulary (`model_dir` may also name a .gguf file).
// NOT_FOUND when none is there.
absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizer(const std::string& model_dir);

}  // namespace corvid

#endif  // CORVID_ENGINE_TOKENIZER_TOKENIZER_H_
