#include "services/worker/worker_flags.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "engine/status_macros.h"

namespace corvid::worker {
namespace {

absl::Status CheckRange(const char* name, int64_t v, int64_t lo, int64_t hi) {
  if (v >= lo && v <= hi) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("--", name, "=", v, ": expected ", lo, "..", hi));
}

}  // namespace

void RegisterWorkerFlags(service::FlagSet& flags, WorkerConfig* c) {
  c->server.listen = "0.0.0.0:50061";
  c->server.metrics_port = 9092;
  service::RegisterServerFlags(flags, &c->server);
  flags.AddString("model", &c->model_dir, "model directory (Hugging Face layout); required");
  flags.AddString("model-name", &c->model_name,
                  "name clients use for the model (default: the directory's base name)");
  flags.AddString("backend", &c->backend, "auto, cpu or cuda");
  flags.AddInt("max-sequences", &c->max_sequences, "requests held at once (running + waiting)");
  flags.AddInt("max-running", &c->max_running, "sequences per engine step");
  flags.AddInt("max-batched-tokens", &c->max_batched_tokens, "tokens per engine step");
  flags.AddInt("max-model-len", &c->max_model_len, "context length (0: the model's)");
  flags.AddInt("threads", &c->threads, "CPU backend threads (0: every core)");
  flags.AddInt("block-size", &c->block_size, "tokens per KV block");
  flags.AddInt("kv-blocks", &c->kv_blocks, "KV cache size in blocks (0: from --kv-cache-mb)");
  flags.AddInt("kv-cache-mb", &c->kv_cache_mb, "KV cache size in MiB when --kv-blocks is 0");
  flags.AddInt("gpu-memory-budget-mb", &c->gpu_memory_budget_mb,
               "CUDA: MiB the backend may use in all, weights + KV (0: 90% of free memory); "
               "e.g. 23552 emulates a 24 GB card on a larger one");
  flags.AddBool("enable-prefix-caching", &c->enable_prefix_caching,
                "reuse the KV of full blocks of prompt prefixes computed before "
                "(--enable-prefix-caching=false: compute every prompt token)");
  flags.AddDouble("health-poll-s", &c->health_poll_s,
                  "how often engine liveness and the metrics are refreshed");
  flags.AddDouble("min-step-ms", &c->min_step_ms,
                  "make each engine step last at least this long (emulates a slower accelerator "
                  "in tests and demos; 0: off)");
}

absl::Status ResolveWorkerConfig(WorkerConfig* c) {
  RETURN_IF_ERROR(service::ValidateServerFlags(c->server));
  if (c->model_dir.empty()) return absl::InvalidArgumentError("--model is required");
  if (c->model_name.empty()) {
    std::filesystem::path p(c->model_dir);
    c->model_name = (p.has_filename() ? p.filename() : p.parent_path().filename()).string();
  }
  if (c->backend != "auto" && c->backend != "cpu" && c->backend != "cuda") {
    return absl::InvalidArgumentError(
        absl::StrCat("--backend=", c->backend, ": expected auto, cpu or cuda"));
  }
  RETURN_IF_ERROR(CheckRange("max-sequences", c->max_sequences, 1, 1 << 16));
  RETURN_IF_ERROR(CheckRange("max-running", c->max_running, 1, 1 << 16));
  RETURN_IF_ERROR(CheckRange("max-batched-tokens", c->max_batched_tokens, c->max_running,
                             1 << 20));
  RETURN_IF_ERROR(CheckRange("max-model-len", c->max_model_len, 0, 1 << 22));
  RETURN_IF_ERROR(CheckRange("threads", c->threads, 0, 4096));
  RETURN_IF_ERROR(CheckRange("gpu-memory-budget-mb", c->gpu_memory_budget_mb, 0, 1 << 24));
  RETURN_IF_ERROR(CheckRange("block-size", c->block_size, 1, 4096));
  RETURN_IF_ERROR(CheckRange("kv-blocks", c->kv_blocks, 0, 1 << 24));
  RETURN_IF_ERROR(CheckRange("kv-cache-mb", c->kv_cache_mb, 1, int64_t{1} << 22));
  if (!(c->health_poll_s > 0)) return absl::InvalidArgumentError("--health-poll-s must be > 0");
  if (!(c->min_step_ms >= 0 && c->min_step_ms <= 60000)) {
    return absl::InvalidArgumentError("--min-step-ms: expected 0..60000");
  }
  return absl::OkStatus();
}

}  // namespace corvid::worker
