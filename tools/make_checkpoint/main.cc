// corvid-make-checkpoint --preset NAME --out DIR [--seed S] [--dtype f32|bf16|f16] [--shards N]
//                        [--vocab_size N]
// Writes a synthetic Hugging Face Llama folder that corvid (and transformers) can load.
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_join.h"
#include "engine/checkpoint_writer.h"
#include "engine/model_presets.h"
#include "tools/make_checkpoint/embedded_corpus.h"

ABSL_FLAG(std::string, preset, "", "model preset to write");
ABSL_FLAG(std::string, out, "", "output folder (created if needed)");
ABSL_FLAG(uint64_t, seed, 0, "weight seed: same seed, same bytes");
ABSL_FLAG(std::string, dtype, "", "f32, bf16 or f16 (default: the preset's own dtype)");
ABSL_FLAG(int, shards, 1, "number of safetensors shards (> 1 also writes the index)");
ABSL_FLAG(int, vocab_size, 0,
          "model vocabulary rows (0: the preset's); the trained tokenizer keeps its own size "
          "(512 pieces), so a larger value makes a padded vocabulary, as Qwen2's");

namespace {

bool ParseDtypeFlag(const std::string& s, corvid::DType* out) {
  if (s == "f32")
    *out = corvid::DType::kF32;
  else if (s == "bf16")
    *out = corvid::DType::kBF16;
  else if (s == "f16")
    *out = corvid::DType::kF16;
  else
    return false;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Writes a synthetic Llama checkpoint.\nPresets: " +
      absl::StrJoin(corvid::PresetNames(), ", ") +
      "\nUsage: corvid-make-checkpoint --preset NAME --out DIR [--seed S] [--dtype f32|bf16|f16]"
      " [--shards N]");
  absl::ParseCommandLine(argc, argv);
  const std::string preset = absl::GetFlag(FLAGS_preset), out = absl::GetFlag(FLAGS_out);
  if (preset.empty() || out.empty()) {
    std::fprintf(stderr, "--preset and --out are required (presets: %s)\n",
                 absl::StrJoin(corvid::PresetNames(), ", ").c_str());
    return 2;
  }
  auto config = corvid::PresetConfig(preset);
  if (!config.ok()) {
    std::fprintf(stderr, "%s\n", std::string(config.status().message()).c_str());
    return 2;
  }
  corvid::CheckpointOptions options;
  if (const int rows = absl::GetFlag(FLAGS_vocab_size); rows != 0) {
    if (rows < options.tokenizer_vocab_size) {
      std::fprintf(stderr, "--vocab_size must be 0 or at least the tokenizer's %d pieces\n",
                   options.tokenizer_vocab_size);
      return 2;
    }
    config->vocab_size = rows;
  }
  options.seed = absl::GetFlag(FLAGS_seed);
  options.dtype = config->dtype;
  options.num_shards = absl::GetFlag(FLAGS_shards);
  const std::string dtype = absl::GetFlag(FLAGS_dtype);
  if (!dtype.empty() && !ParseDtypeFlag(dtype, &options.dtype)) {
    std::fprintf(stderr, "--dtype must be f32, bf16 or f16, not '%s'\n", dtype.c_str());
    return 2;
  }
  options.corpus_texts = corvid::EmbeddedCorpus();
  const absl::Status st = corvid::WriteCheckpoint(*config, out, options);
  if (!st.ok()) {
    std::fprintf(stderr, "corvid-make-checkpoint: %s\n", std::string(st.message()).c_str());
    return 1;
  }
  std::printf("wrote %s (%s, %.1fM parameters, %s, seed %llu) to %s\n", preset.c_str(),
              config->architecture.c_str(), config->NumParameters() / 1e6,
              corvid::DTypeName(options.dtype), static_cast<unsigned long long>(options.seed),
              out.c_str());
  return 0;
}
