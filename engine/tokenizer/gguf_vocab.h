// Tokenizer vocabularies stored in GGUF files (llama.cpp's format), such as the vocab-only
// DeepSeek LLM / Coder files: tokens, token types, merges and the pre-tokenizer's name become
// an HfTokenizerSpec for the tokenizer.json BPE implementation.
#ifndef CORVID_ENGINE_TOKENIZER_GGUF_VOCAB_H_
#define CORVID_ENGINE_TOKENIZER_GGUF_VOCAB_H_

#include <string>

#include "absl/status/statusor.h"
#include "engine/tokenizer/hf_tokenizer_spec.h"

namespace corvid {

// UNIMPLEMENTED for tokenizer models other than "gpt2" (byte-level BPE) and for pre-tokenizer
// names we have no matcher for; INVALID_ARGUMENT for a malformed file.
absl::StatusOr<HfTokenizerSpec> ReadGgufVocab(const std::string& path);

}  // namespace corvid

#endif  // CORVID_ENGINE_TOKENIZER_GGUF_VOCAB_H_
