// Padded vocabularies: a model may have more embedding rows than its tokenizer has pieces
// (Qwen2: 151936 rows, 151665 pieces; a synthetic checkpoint: 32000 rows, 512 pieces), so that
// the matrix shapes suit the hardware. Those extra ids are valid model outputs with no text.
// The tokenizer tier accepts ids up to the model's size and decodes the padding ids to nothing,
// as Hugging Face's decoders skip ids they have no token for; they still count as tokens.
#ifndef CORVID_SERVICES_TOKENIZER_PADDED_VOCAB_H_
#define CORVID_SERVICES_TOKENIZER_PADDED_VOCAB_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace corvid::tokenizer_service {

// The model's vocabulary size from `dir`/config.json ("vocab_size"), or 0 when the folder has
// no config.json or it names none (a tokenizer-only folder). INVALID_ARGUMENT naming the file
// when it is not JSON or the field is not a positive integer.
absl::StatusOr<int> ConfigVocabSize(const std::string& dir);

// `ids` without the ids >= `piece_count` (the padding). Returns `ids` itself, copying nothing,
// when none is padding (the usual case: this runs for every decode step); otherwise fills
// `scratch` and returns a view of it.
absl::Span<const int32_t> WithoutPaddingIds(absl::Span<const int32_t> ids, int piece_count,
                                            std::vector<int32_t>* scratch);

}  // namespace corvid::tokenizer_service

#endif  // CORVID_SERVICES_TOKENIZER_PADDED_VOCAB_H_
