#include "services/loadgen/loadgen_flags.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "engine/status_macros.h"

namespace corvid::loadgen {
namespace {

void RegisterEngineFlags(service::FlagSet& flags, worker::WorkerConfig* w) {
  flags.AddString("model", &w->model_dir, "--in-process: model directory (Hugging Face layout)");
  flags.AddString("backend", &w->backend, "--in-process: auto, cpu or cuda");
  flags.AddInt("max-running", &w->max_running, "--in-process: sequences per engine step");
  flags.AddInt("max-batched-tokens", &w->max_batched_tokens,
               "--in-process: tokens per engine step");
  flags.AddInt("max-model-len", &w->max_model_len, "--in-process: context length (0: model's)");
  flags.AddInt("threads", &w->threads, "--in-process: CPU backend threads (0: every core)");
  flags.AddInt("block-size", &w->block_size, "--in-process: tokens per KV block");
  flags.AddInt("kv-blocks", &w->kv_blocks, "--in-process: KV blocks (0: from --kv-cache-mb)");
  flags.AddInt("kv-cache-mb", &w->kv_cache_mb, "--in-process: KV cache MiB");
  flags.AddInt("gpu-memory-budget-mb", &w->gpu_memory_budget_mb,
               "--in-process: CUDA backend's memory budget, as the worker's (0: most of the "
               "free memory; give both a budget when they share a GPU)");
  flags.AddInt("max-sequences", &w->max_sequences,
               "--in-process: requests held in the engine at once (more wait), as the worker's");
  flags.AddDouble("min-step-ms", &w->min_step_ms,
                  "--in-process: pace engine steps, as corvid-worker --min-step-ms");
  flags.AddBool("enable-prefix-caching", &w->enable_prefix_caching,
                "--in-process: reuse cached prefix KV, as corvid-worker --enable-prefix-caching");
}

}  // namespace

void RegisterLoadgenFlags(service::FlagSet& flags, LoadgenConfig* c) {
  flags.AddString("server", &c->server, "corvid-scheduler HOST:PORT to load");
  flags.AddBool("in-process", &c->in_process,
                "drive the engine in this process instead (needs --model)");
  flags.AddInt("channels", &c->channels, "gRPC channels (TCP connections) to spread calls over");
  flags.AddDouble("connect-timeout-s", &c->connect_timeout_s, "wait for the server this long");
  RegisterEngineFlags(flags, &c->engine);
  flags.AddString("model-name", &c->request.model, "served model name (empty: the default)");
  flags.AddString("workload", &c->workload,
                  "file of requests, one a line: {\"prompt\": TEXT | \"prompt_token_ids\": [..], "
                  "\"max_tokens\": N}, or plain text (max_tokens from --output-len's mean)");
  flags.AddString(
      "prompt-len", &c->prompt_len,
      "prompt length distribution: N, uniform:LO:HI, normal:MEAN:STD (tokens or words)");
  flags.AddString("output-len", &c->output_len, "max_tokens distribution (same forms)");
  flags.AddString("prompt-format", &c->prompt_format,
                  "synthetic prompts as token ids (ids) or English words (text)");
  flags.AddInt("seed", &c->seed, "seed of the workload and the arrivals");
  flags.AddDouble("temperature", &c->temperature, "sampling temperature (0 = greedy)");
  flags.AddBool("ignore-eos", &c->request.ignore_eos, "generate exactly max_tokens tokens");
  flags.AddDouble("deadline-ms", &c->request.deadline_ms, "per-request deadline (0 = none)");
  flags.AddDouble("rate", &c->rate,
                  "open loop: mean requests per second (inf: all --num-requests at once)");
  flags.AddString("arrival", &c->arrival,
                  "open loop: poisson, gamma:SHAPE, onoff:ON_S:OFF_S or burst:N");
  flags.AddInt("concurrency", &c->concurrency, "closed loop: requests in flight");
  flags.AddInt("num-requests", &c->num_requests, "stop sending after N requests (-1: no limit)");
  flags.AddDouble("duration-s", &c->duration_s, "stop sending after S seconds (0: no limit)");
  flags.AddInt("warmup", &c->warmup, "requests sent (closed loop) and discarded before the run");
  flags.AddDouble("slo-ttft-ms", &c->slo.ttft_ms, "goodput SLO on TTFT (0: none)");
  flags.AddDouble("slo-tpot-ms", &c->slo.tpot_ms, "goodput SLO on TPOT (0: none)");
  flags.AddString("json", &c->json_path, "also write the report as JSON to FILE");
  flags.AddString("label", &c->label, "name of this run in the report");
}

absl::Status ResolveLoadgenConfig(LoadgenConfig* c) {
  if (c->in_process == !c->server.empty()) {
    return absl::InvalidArgumentError("give --server HOST:PORT or --in-process, not both");
  }
  if (c->in_process && c->engine.model_dir.empty()) {
    return absl::InvalidArgumentError("--in-process needs --model DIR");
  }
  if (c->channels < 1 || c->channels > 64) {
    return absl::InvalidArgumentError("--channels: expected 1..64");
  }
  if (c->prompt_format != "ids" && c->prompt_format != "text") {
    return absl::InvalidArgumentError("--prompt-format: expected ids or text");
  }
  if (!(c->temperature >= 0)) return absl::InvalidArgumentError("--temperature must be >= 0");
  c->request.temperature = static_cast<float>(c->temperature);
  if (c->request.deadline_ms < 0) return absl::InvalidArgumentError("--deadline-ms must be >= 0");
  if (c->warmup < 0) return absl::InvalidArgumentError("--warmup must be >= 0");
  if ((c->rate > 0) == (c->concurrency > 0)) {
    return absl::InvalidArgumentError(
        "give --rate R (open loop) or --concurrency N (closed loop), exactly one");
  }
  RunOptions& run = c->run;
  run.num_requests = c->num_requests;
  run.duration_s = c->duration_s;
  run.closed_loop = c->concurrency > 0;
  run.concurrency = static_cast<int>(c->concurrency);
  if (run.closed_loop) {
    c->load_summary = absl::StrCat("closed loop, concurrency ", c->concurrency);
  } else {
    ASSIGN_OR_RETURN(run.arrivals,
                     ParseArrivals(c->arrival, c->rate, static_cast<uint64_t>(c->seed)));
    c->load_summary = absl::StrCat("open loop, ", c->arrival, " arrivals at ", c->rate, " req/s");
    if (std::isinf(c->rate)) {
      if (c->num_requests < 0) return absl::InvalidArgumentError("--rate=inf needs --num-requests");
      c->load_summary = absl::StrCat("open loop, all ", c->num_requests, " requests at once");
    }
  }
  RETURN_IF_ERROR(ValidateRunOptions(run));
  if (c->request.deadline_ms > 0) {
    absl::StrAppend(&c->load_summary, ", deadline ", c->request.deadline_ms, " ms");
  }
  return absl::OkStatus();
}

}  // namespace corvid::loadgen
