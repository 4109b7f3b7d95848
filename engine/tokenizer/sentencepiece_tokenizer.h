// SentencePiece tokenizer.model as a Tokenizer: encoding through libsentencepiece (behind the
// firewall in sentencepiece_model.h), decoding through DecodeRules that reproduce
// sentencepiece's Decode.
#ifndef CORVID_ENGINE_TOKENIZER_SENTENCEPIECE_TOKENIZER_H_
#define CORVID_ENGINE_TOKENIZER_SENTENCEPIECE_TOKENIZER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "engine/tokenizer/tokenizer.h"

namespace corvid {

// bos/eos are added per `config_path` (tokenizer_config.json add_bos_token / add_eos_token;
// LlamaTokenizer's defaults, bos yes and eos no, when absent).
absl::StatusOr<std::unique_ptr<Tokenizer>> LoadSentencePieceTokenizer(
    const std::string& model_path, const std::string& config_path);

}  // namespace corvid

#endif  // CORVID_ENGINE_TOKENIZER_SENTENCEPIECE_TOKENIZER_H_
