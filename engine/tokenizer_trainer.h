// Trains a small Llama-style SentencePiece BPE tokenizer (synthetic checkpoints ship one).
// Standard library only: SentencePiece 0.1.97's headers clash with Abseil, so its use is
// confined to tokenizer_trainer.cc, which includes nothing else (the SentencePiece firewall).
#ifndef CORVID_ENGINE_TOKENIZER_TRAINER_H_
#define CORVID_ENGINE_TOKENIZER_TRAINER_H_

#include <string>
#include <vector>

namespace corvid {

struct BpeTrainOptions {
  int vocab_size = 512;  // pieces in total: <unk> <s> </s>, 256 byte pieces, the rest learned
  int max_sentence_length = 4192;
};

// Trains on `sentences` (one text line each) and stores the serialized ModelProto (the content
// of a `tokenizer.model` file) in `model_proto`. Pieces: <unk>=0, <s>=1, </s>=2, no pad,
// byte_fallback on, add_dummy_prefix on, whitespace kept as written (as Llama 2's tokenizer).
// Deterministic for the same input. Returns an empty string on success, else the error.
std::string TrainBpeTokenizer(const std::vector<std::string>& sentences,
                              const BpeTrainOptions& options, std::string* model_proto);

}  // namespace corvid

#endif  // CORVID_ENGINE_TOKENIZER_TRAINER_H_
