// Writes synthetic Hugging Face Llama checkpoints: config files, seeded random weights (the
// values WeightStore::Dummy generates for the same seed), and a small trained tokenizer.
#ifndef CORVID_ENGINE_CHECKPOINT_WRITER_H_
#define CORVID_ENGINE_CHECKPOINT_WRITER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "engine/model_config.h"

namespace corvid {

// Larger models are refused: their folders would not fit on ordinary disks, and benchmarks use
// WeightStore::Dummy for them instead.
inline constexpr int64_t kMaxCheckpointParameters = 16'000'000'000;

struct CheckpointOptions {
  uint64_t seed = 0;
  DType dtype = DType::kF32;  // F32, F16 or BF16
  int num_shards = 1;         // > 1 writes model-0000i-of-0000N.safetensors + index
  // Texts to train the SentencePiece tokenizer on (one sentence per line). Empty: no tokenizer
  // files are written and config.json keeps the config's own bos/eos ids.
  std::vector<std::string> corpus_texts;
  int tokenizer_vocab_size = 512;
};

// Writes into `dir` (created if needed): model.safetensors or shards + index, config.json,
// generation_config.json and, with a corpus, tokenizer.model, tokenizer_config.json and
// special_tokens_map.json. With a tokenizer, config.json's bos/eos become the tokenizer's
// (<s> = 1, </s> = 2) so that the folder is self-consistent; a model vocabulary larger than the
// tokenizer's simply has unused rows. Deterministic for a given config, options and corpus.
// RESOURCE_EXHAUSTED when the model is too large or the disk too full, checked before writing.
absl::Status WriteCheckpoint(const ModelConfig& config, const std::string& dir,
                             const CheckpointOptions& options);

// The config.json text for `config`, in the layout transformers writes.
std::string ModelConfigToJson(const ModelConfig& config);

}  // namespace corvid

#endif  // CORVID_ENGINE_CHECKPOINT_WRITER_H_
