// corvid-bench: the CUDA backend on a model shape with dummy weights generated on the GPU.
// Reports prefill time (TTFT at batch 1), decode ms/step and tokens/s per batch size, each
// beside the roofline of this GPU measured in the same run (copy bandwidth, bf16 GEMM rate),
// and the attention kernels' times on Llama-3-8B head shapes.
//
//   corvid-bench --preset llama-3-8b --prompt 512 --gen 128 --batches 1,8,32,64,128
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "engine/cuda/cuda_backend.h"
#include "engine/model_presets.h"
#include "engine/status_macros.h"
#include "tools/bench/attention_bench.h"
#include "tools/bench/driver.h"
#include "tools/bench/roofline.h"

ABSL_FLAG(std::string, preset, "llama-3-8b", "model shape (see corvid-make-checkpoint)");
ABSL_FLAG(int, prompt, 512, "prompt tokens per sequence");
ABSL_FLAG(int, gen, 128, "generated tokens per sequence");
ABSL_FLAG(std::string, batches, "1,8,32,64,128", "batch sizes");
ABSL_FLAG(int, token_budget, 2048, "tokens per prefill step (max_num_batched_tokens)");
ABSL_FLAG(int64_t, gpu_memory_budget, 0, "bytes the backend may use (0 = 90% of free)");
ABSL_FLAG(bool, also_fast, true, "also run with batch invariance off (cuBLAS may be chosen)");
ABSL_FLAG(bool, attention, true, "time the attention kernels");
ABSL_FLAG(std::string, attention_out, "", "write the attention timings here (for the torch comparison)");
ABSL_FLAG(bool, gemm_table, false, "print the autotuned GEMM table");
ABSL_FLAG(bool, model, true, "run the model benchmark (off: attention kernels only)");
ABSL_FLAG(bool, prefill_variants, false, "also time every prefill attention kernel variant");
ABSL_FLAG(int, profile_steps, 0,
          "decode steps (from the middle of each batch) inside cudaProfilerStart/Stop, for "
          "`ncu --profile-from-start off`");

namespace corvid::bench {
namespace {

struct Row {
  BatchTiming t;
  double decode_bytes = 0.0, prefill_flops = 0.0;
};

// Bytes one decode step must read: every weight except the embedding table (only B rows of
// it; when tied, lm_head reads it whole), plus the KV cache at the average context.
double DecodeBytes(const ModelConfig& c, const CudaBackendInfo& info, int batch, int prompt, int gen) {
  const double embed = 2.0 * c.vocab_size * c.hidden_size;
  const double weights = info.weight_bytes - (c.tie_word_embeddings ? 0.0 : embed);
  const double kv_per_token = 2.0 * c.num_layers * c.kv_dim() * 2.0;
  return weights + kv_per_token * batch * (prompt + gen / 2.0);
}

// Matrix FLOPs of prefilling `batch` prompts: layer projections for every token, lm_head for the
// last token of each, causal attention (QK^T and PV).
double PrefillFlops(const ModelConfig& c, int batch, int prompt) {
  const double h = c.hidden_size, layer = h * (c.q_dim() + 2.0 * c.kv_dim()) + c.q_dim() * h +
                                          3.0 * h * c.intermediate_size;
  const double tokens = double(batch) * prompt;
  const double attn = 2.0 * 2.0 * c.num_heads * c.head_dim * (prompt * (prompt + 1) / 2.0) * batch;
  return 2.0 * layer * c.num_layers * tokens + c.num_layers * attn + 2.0 * h * c.vocab_size * batch;
}

absl::Status RunDecodeTable(const ModelConfig& config, bool invariant, const Roofline& roof) {
  CudaBackendOptions o;
  o.max_num_seqs = 1;
  std::vector<int> batches;
  for (absl::string_view s : absl::StrSplit(absl::GetFlag(FLAGS_batches), ',')) {
    int b;
    if (!absl::SimpleAtoi(s, &b) || b < 1) return absl::InvalidArgumentError("bad --batches");
    batches.push_back(b);
    o.max_num_seqs = std::max(o.max_num_seqs, b);
  }
  const int prompt = absl::GetFlag(FLAGS_prompt), gen = absl::GetFlag(FLAGS_gen);
  o.max_num_batched_tokens = absl::GetFlag(FLAGS_token_budget);
  o.max_model_len = prompt + gen;
  o.gpu_memory_budget = absl::GetFlag(FLAGS_gpu_memory_budget);
  o.batch_invariant = invariant;
  o.dummy_seed = 1;
  o.dtype = DType::kBF16;
  auto backend = CreateCudaBackend(config, nullptr, o);
  if (!backend.ok()) return backend.status();
  auto info = DescribeCudaBackend(**backend);
  if (!info.ok()) return info.status();
  std::printf("\n== %s, batch_invariant=%d: %s (%d SMs), weights %.2f GB, KV pool %d blocks (%.1f GB)\n",
              absl::GetFlag(FLAGS_preset).c_str(), invariant, info->device_name.c_str(),
              info->sm_count, info->weight_bytes / 1e9, info->num_kv_blocks, info->kv_bytes / 1e9);
  if (absl::GetFlag(FLAGS_gemm_table)) std::printf("GEMM choices:\n%s", info->gemm_table.c_str());
  std::printf("%6s %11s %9s %9s %11s %9s %10s %10s %9s\n", "batch", "prefill_ms", "pf_TF/s",
              "pf_roof%", "decode_ms", "tok/s", "GB/step", "roof_ms", "bw_roof%");
  for (int b : batches) {
    auto t = TimeBatch(backend->get(), b, prompt, gen, o.max_num_batched_tokens, 7 + b,
                       absl::GetFlag(FLAGS_profile_steps));
    if (!t.ok()) {
      std::printf("%6d  %s\n", b, t.status().ToString().c_str());
      continue;
    }
    const double flops = PrefillFlops(config, b, prompt);
    const double pf_tflops = flops / (t->prefill_ms * 1e9);
    const double ms = t->MedianDecodeMs();
    const double bytes = DecodeBytes(config, *info, b, prompt, gen);
    const double roof_ms = bytes / (roof.copy_gbps * 1e6);
    std::printf("%6d %11.2f %9.1f %8.1f%% %11.3f %9.0f %10.2f %10.3f %8.1f%%\n", b, t->prefill_ms,
                pf_tflops, 100.0 * pf_tflops / roof.gemm_tflops, ms, b * 1000.0 / ms, bytes / 1e9,
                roof_ms, 100.0 * roof_ms / ms);
    std::fflush(stdout);
  }
  return absl::OkStatus();
}

absl::Status RunAttention() {
  std::vector<AttentionCase> cases = DefaultAttentionCases();
  RETURN_IF_ERROR(TimeAttention(&cases));
  if (absl::GetFlag(FLAGS_prefill_variants)) RETURN_IF_ERROR(TimePrefillVariants(&cases));
  std::printf("\n== attention kernels (bf16, 32/8 heads, head_dim 128, paged 16-token blocks)\n");
  std::printf("%12s %6s %6s %12s\n", "kind", "batch", "len", "corvid_us");
  const std::string path = absl::GetFlag(FLAGS_attention_out);
  std::ofstream out;
  if (!path.empty()) out.open(path);
  for (const AttentionCase& c : cases) {
    std::printf("%12s %6d %6d %12.1f\n", c.kind.c_str(), c.batch, c.len, c.micros);
    if (out) out << c.kind << " " << c.batch << " " << c.len << " " << c.micros << "\n";
  }
  return absl::OkStatus();
}

int Main() {
  std::string why;
  if (!CudaDeviceAvailable(&why)) {
    std::fprintf(stderr, "corvid-bench: no usable GPU: %s\n", why.c_str());
    return 2;
  }
  auto config = PresetConfig(absl::GetFlag(FLAGS_preset));
  if (!config.ok()) {
    std::fprintf(stderr, "%s\n", config.status().ToString().c_str());
    return 2;
  }
  auto roof = MeasureRoofline();
  if (!roof.ok()) {
    std::fprintf(stderr, "roofline: %s\n", roof.status().ToString().c_str());
    return 1;
  }
  std::printf("roofline (this GPU, this run): copy %.0f GB/s (read + write), bf16 GEMM %.0f TFLOP/s\n",
              roof->copy_gbps, roof->gemm_tflops);
  if (absl::GetFlag(FLAGS_attention)) {
    const absl::Status st = RunAttention();
    if (!st.ok()) std::fprintf(stderr, "attention: %s\n", st.ToString().c_str());
  }
  for (bool invariant : {true, false}) {
    if (!absl::GetFlag(FLAGS_model)) break;
    if (!invariant && !absl::GetFlag(FLAGS_also_fast)) break;
    const absl::Status st = RunDecodeTable(*config, invariant, *roof);
    if (!st.ok()) {
      std::fprintf(stderr, "benchmark: %s\n", st.ToString().c_str());
      return 1;
    }
  }
  return 0;
}

}  // namespace
}  // namespace corvid::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return corvid::bench::Main();
}
