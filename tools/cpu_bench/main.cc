// corvid-cpu-bench [--model DIR | --preset NAME] [--threads N]
// Measures the machine's ceilings (copy/read bandwidth, FMA rate), then the CPU backend's
// prefill speed (one prompt) and decode speed at several batch sizes, with the achieved
// fraction of the bandwidth roofline (weight + KV bytes read per step / step time).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "engine/cpu_backend.h"
#include "engine/cpu_parallel.h"
#include "engine/cpu_simd.h"
#include "engine/direct_step.h"
#include "engine/model_config.h"
#include "engine/model_presets.h"
#include "engine/sampler.h"
#include "engine/weights.h"
#include "tools/cpu_bench/roofline.h"

ABSL_FLAG(std::string, model, "", "Hugging Face model folder");
ABSL_FLAG(std::string, preset, "llama2c-15m", "model preset with seeded fp32 dummy weights");
ABSL_FLAG(int, threads, 2, "backend threads (0 = all cores)");
ABSL_FLAG(int, prompt_len, 128, "prefill prompt length; decode starts after such a prompt");
ABSL_FLAG(int, decode_steps, 128, "timed decode steps per batch size");
ABSL_FLAG(std::string, batches, "1,8", "decode batch sizes");
ABSL_FLAG(int, reps, 3, "repetitions of each measurement (best is reported)");
ABSL_FLAG(bool, roofline, true, "measure the machine's bandwidth and FMA ceilings first");

namespace corvid {
namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::vector<DirectSeq> MakeSeqs(int n, int len, int vocab, int blocks_per_seq, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int32_t> tok(3, vocab - 1);
  std::vector<DirectSeq> seqs(n);
  for (int i = 0; i < n; ++i) {
    seqs[i].id = i;
    seqs[i].first_block = i * blocks_per_seq;
    seqs[i].sampling.temperature = 0.0f;
    for (int t = 0; t < len; ++t) seqs[i].prompt.push_back(tok(gen));
  }
  return seqs;
}

bool Run(Backend& backend, const std::vector<StepChunk>& chunks) {
  StepBatch batch = BuildStep(chunks, backend.kv_geometry().block_size, false);
  StepResult result;
  const absl::Status st = backend.Execute(batch, &result);
  if (!st.ok()) {
    std::fprintf(stderr, "step failed: %s\n", std::string(st.message()).c_str());
    return false;
  }
  size_t j = 0;
  for (const StepChunk& c : chunks) {
    if (c.sample) c.seq->output.push_back(result.tokens[j++].token);
  }
  return true;
}

// Best prefill time of one prompt of `len` tokens, seconds.
double TimePrefill(Backend& backend, int len, int blocks_per_seq, int reps) {
  double best = 1e30;
  for (int r = 0; r < reps + 1; ++r) {  // the first run warms caches and buffers
    std::vector<DirectSeq> seqs = MakeSeqs(1, len, backend.config().vocab_size, blocks_per_seq, r);
    const auto t0 = Clock::now();
    if (!Run(backend, {{&seqs[0], seqs[0].prompt, true}})) return -1;
    if (r > 0) best = std::min(best, Since(t0));
  }
  return best;
}

// Best time of `steps` decode steps of `batch` sequences after a prompt of `len`, seconds.
double TimeDecode(Backend& backend, int batch, int len, int steps, int blocks_per_seq, int reps) {
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    std::vector<DirectSeq> seqs =
        MakeSeqs(batch, len, backend.config().vocab_size, blocks_per_seq, 100 + r);
    std::vector<StepChunk> chunks;
    for (DirectSeq& s : seqs) chunks.push_back({&s, s.prompt, true});
    if (!Run(backend, chunks)) return -1;
    const auto t0 = Clock::now();
    for (int i = 0; i < steps; ++i) {
      for (StepChunk& c : chunks) c.tokens = {c.seq->output.back()};
      if (!Run(backend, chunks)) return -1;
    }
    best = std::min(best, Since(t0));
  }
  return best;
}

// Synthetic logits: N(0, sigma) for every id, plus `boosted` ids raised by `lift` (a peaked,
// LM-like distribution); returns the entropy (nats) of softmax(logits / temperature).
double MakeLogits(int vocab, float sigma, int boosted, float lift, float temperature,
                  std::vector<float>* logits) {
  std::mt19937 gen(5);
  std::normal_distribution<float> dist(0.0f, sigma);
  logits->resize(vocab);
  for (float& x : *logits) x = dist(gen);
  for (int i = 0; i < boosted; ++i) (*logits)[(i * 7919) % vocab] += lift - 0.5f * i;
  double m = -1e30, sum = 0.0, ent = 0.0;
  for (float x : *logits) m = std::max(m, double(x) / temperature);
  for (float x : *logits) sum += std::exp(double(x) / temperature - m);
  for (float x : *logits) {
    const double p = std::exp(double(x) / temperature - m) / sum;
    if (p > 0) ent -= p * std::log(p);
  }
  return ent;
}

// Microseconds per SampleToken call (best of `reps` x 200 calls).
double SampleMicros(const std::vector<float>& logits, const SamplingParams& p, int reps) {
  const std::vector<int32_t> prompt = {1, 2, 3};
  std::vector<int32_t> output;
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = Clock::now();
    for (int i = 0; i < 200; ++i) {
      output.push_back(SampleToken(logits.data(), logits.size(), p, prompt, output).token);
    }
    best = std::min(best, Since(t0) / 200);
  }
  return best * 1e6;
}

void PrintSamplerCosts(int vocab, int reps) {
  SamplingParams greedy;
  greedy.temperature = 0.0f;
  SamplingParams temp;
  temp.temperature = 0.8f;
  SamplingParams nucleus = temp;
  nucleus.top_p = 0.9f;
  nucleus.repetition_penalty = 1.1f;
  std::vector<float> logits;
  for (bool peaked : {true, false}) {
    const double entropy = peaked ? MakeLogits(vocab, 2.0f, 20, 14.0f, 0.8f, &logits)
                                  : MakeLogits(vocab, 3.0f, 0, 0.0f, 0.8f, &logits);
    std::printf(
        "sampler, vocab %d, %s logits (entropy %.1f nats at T=0.8), one thread: greedy "
        "%.1f us, T=0.8 %.1f us, T=0.8 + top-p 0.9 + repetition penalty %.1f us\n",
        vocab, peaked ? "peaked" : "flat N(0,3)", entropy, SampleMicros(logits, greedy, reps),
        SampleMicros(logits, temp, reps), SampleMicros(logits, nucleus, reps));
  }
}

// The machine's ceilings, measured with the backend's thread count (zeros when not measured).
struct Ceilings {
  double copy_gbs = 0, read_big_gbs = 0, read_model_gbs = 0, fma_gflops = 0;
};

Ceilings MeasureCeilings(int64_t weight_bytes, int threads, int reps) {
  Ceilings c;
  c.copy_gbs = bench::CopyBandwidthGBs(int64_t{512} << 20, threads, reps);
  c.read_big_gbs = bench::ReadBandwidthGBs(int64_t{1} << 30, threads, reps);
  c.read_model_gbs = bench::ReadBandwidthGBs(weight_bytes, threads, 3 * reps);
  c.fma_gflops = bench::FmaPeakGFlops(threads);
  std::printf(
      "memory: copy %.1f GB/s (STREAM copy, 2x512 MiB), read %.1f GB/s (1 GiB), "
      "read %.1f GB/s at the model's %.1f MB of weights\ncompute: FMA peak %.1f GFLOP/s\n",
      c.copy_gbs, c.read_big_gbs, c.read_model_gbs, weight_bytes / 1e6, c.fma_gflops);
  return c;
}

bool PrintPrefill(Backend& backend, int len, int blocks_per_seq, int reps, const Ceilings& ceil) {
  const ModelConfig& c = backend.config();
  const double layer_params = static_cast<double>(c.num_layers) * c.hidden_size *
                              (2.0 * c.q_dim() + 2.0 * c.kv_dim() + 3.0 * c.intermediate_size);
  // Matmuls of every prompt token, q.k and p.v over the causal triangle, one lm_head row.
  const double flops = 2.0 * layer_params * len +
                       4.0 * c.num_layers * c.q_dim() * (len * (len + 1.0) / 2) +
                       2.0 * c.vocab_size * c.hidden_size;
  const double t = TimePrefill(backend, len, blocks_per_seq, reps);
  if (t < 0) return false;
  std::printf("prefill: %d tokens in %.2f ms = %.0f tokens/s (%.1f GFLOP/s", len, t * 1e3, len / t,
              flops / t / 1e9);
  if (ceil.fma_gflops > 0)
    std::printf(", %.0f%% of FMA peak", 100.0 * flops / t / 1e9 / ceil.fma_gflops);
  std::printf(")\n");
  return true;
}

bool PrintDecode(Backend& backend, int batch, int len, int steps, int blocks_per_seq, int reps,
                 const Ceilings& ceil) {
  const ModelConfig& c = backend.config();
  const double t = TimeDecode(backend, batch, len, steps, blocks_per_seq, reps);
  if (t < 0) return false;
  const double step_s = t / steps;
  // Every weight, plus K and V of every cached position (average context) of every sequence.
  const double kv_bytes = 2.0 * c.num_layers * c.kv_dim() * 4 * batch * (len + steps / 2.0);
  const double bytes = CpuBackendWeightBytesPerStep(backend) + kv_bytes;
  const double gbs = bytes / step_s / 1e9;
  std::printf(
      "decode batch %d: %.0f tokens/s (%.3f ms/step, context %d..%d); %.1f MB/step -> %.1f GB/s",
      batch, batch * steps / t, step_s * 1e3, len, len + steps, bytes / 1e6, gbs);
  if (ceil.read_model_gbs > 0) {
    std::printf(" = %.0f%% of read bw (1 GiB), %.0f%% of read bw (model size)",
                100 * gbs / ceil.read_big_gbs, 100 * gbs / ceil.read_model_gbs);
  }
  std::printf("\n");
  return true;
}

std::vector<int> BatchSizes() {
  std::vector<int> batches;
  for (absl::string_view b : absl::StrSplit(absl::GetFlag(FLAGS_batches), ',')) {
    int v;
    if (absl::SimpleAtoi(b, &v) && v > 0) batches.push_back(v);
  }
  return batches;
}

int Main() {
  const std::string dir = absl::GetFlag(FLAGS_model);
  auto config = dir.empty() ? PresetConfig(absl::GetFlag(FLAGS_preset)) : ModelConfig::FromDir(dir);
  if (!config.ok()) return std::fprintf(stderr, "%s\n", config.status().ToString().c_str()), 1;
  auto store =
      dir.empty() ? WeightStore::Dummy(*config, DType::kF32, 1) : WeightStore::Open(dir, *config);
  if (!store.ok()) return std::fprintf(stderr, "%s\n", store.status().ToString().c_str()), 1;
  const int threads = ResolveNumThreads(absl::GetFlag(FLAGS_threads));
  const int reps = std::max(1, absl::GetFlag(FLAGS_reps));
  const std::vector<int> batches = BatchSizes();
  const int max_batch = batches.empty() ? 1 : *std::max_element(batches.begin(), batches.end());
  const int steps = absl::GetFlag(FLAGS_decode_steps);
  const int len = std::min(absl::GetFlag(FLAGS_prompt_len),
                           std::max(1, config->max_position_embeddings - steps));
  CpuBackendOptions options;
  options.num_threads = threads;
  const int blocks_per_seq = (len + steps + options.block_size) / options.block_size + 1;
  options.num_kv_blocks = max_batch * blocks_per_seq;
  auto backend = CreateCpuBackend(*config, **store, options);
  if (!backend.ok()) return std::fprintf(stderr, "%s\n", backend.status().ToString().c_str()), 1;
  store->reset();  // the backend holds its own fp32 copy
  std::printf(
      "model: %s  (%.2fM params, %d layers, hidden %d, vocab %d), threads %d, SIMD %d lanes\n",
      dir.empty() ? absl::GetFlag(FLAGS_preset).c_str() : dir.c_str(),
      config->NumParameters() / 1e6, config->num_layers, config->hidden_size, config->vocab_size,
      threads, simd::kLanes);
  const Ceilings ceil =
      absl::GetFlag(FLAGS_roofline)
          ? MeasureCeilings(CpuBackendWeightBytesPerStep(**backend), threads, reps)
          : Ceilings{};
  PrintSamplerCosts(config->vocab_size, reps);
  if (!PrintPrefill(**backend, len, blocks_per_seq, reps, ceil)) return 1;
  for (int b : batches) {
    if (!PrintDecode(**backend, b, len, steps, blocks_per_seq, reps, ceil)) return 1;
  }
  return 0;
}

}  // namespace
}  // namespace corvid

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "CPU backend benchmark.\nUsage: corvid-cpu-bench [--model DIR | --preset NAME] "
      "[--threads N] [--prompt_len 128] [--decode_steps 128] [--batches 1,8]");
  absl::ParseCommandLine(argc, argv);
  return corvid::Main();
}
