// corvid-loadgen: load generator and benchmark client. Runs a workload (open loop: Poisson or
// bursty arrivals at --rate; closed loop: --concurrency requests in flight) against a
// corvid-scheduler (--target) or an in-process engine (--engine, the baseline), and reports
// TTFT / TPOT / ITL percentiles, throughput, goodput under an SLO and rejections by code, as
// text and (--json-out) JSON.
#include <cstdio>
#include <fstream>

#include "services/common/flags.h"
#include "services/loadgen/drivers.h"
#include "services/loadgen/stats.h"
#include "services/loadgen/workload.h"

namespace lg = corvid::loadgen;

namespace {

struct Flags {
  std::string target, engine, backend = "cpu", mode = "open", input_len = "32",
                              output_len = "64", prompt_file, json_out, label;
  double rate = 0, slo_ttft_ms = 0, slo_tpot_ms = 0, min_step_ms = 0, timeout_s = 600;
  int64_t burst = 1, concurrency = 8, num_requests = 100, warmup = 0, seed = 1, channels = 4,
          threads = 0, max_running = 32, max_batched_tokens = 512, block_size = 16,
          kv_blocks = 0;
};

void Register(corvid::service::FlagSet& f, Flags* v) {
  f.AddString("target", &v->target, "corvid-scheduler HOST:PORT to load");
  f.AddString("engine", &v->engine, "or: model directory to run in-process (the baseline)");
  f.AddString("backend", &v->backend, "--engine backend: cpu or cuda");
  f.AddString("mode", &v->mode, "open (arrivals at --rate) or closed (--concurrency in flight)");
  f.AddDouble("rate", &v->rate, "open loop: mean requests/s (0: all at once)");
  f.AddInt("burst", &v->burst, "open loop: requests per arrival burst (1: Poisson)");
  f.AddInt("concurrency", &v->concurrency, "closed loop: requests in flight");
  f.AddInt("num-requests", &v->num_requests, "requests measured");
  f.AddInt("warmup", &v->warmup, "requests run first and not measured");
  f.AddString("input-len", &v->input_len, "prompt tokens: N, A:B or normal:MEAN:SD");
  f.AddString("output-len", &v->output_len, "output tokens: N, A:B or normal:MEAN:SD");
  f.AddString("prompt-file", &v->prompt_file,
              "JSONL {\"prompt\":..., \"max_tokens\":...} or text lines (instead of synthetic "
              "token-id prompts; --target only)");
  f.AddInt("seed", &v->seed, "workload seed");
  f.AddDouble("slo-ttft-ms", &v->slo_ttft_ms, "goodput SLO on time to first token (0: none)");
  f.AddDouble("slo-tpot-ms", &v->slo_tpot_ms, "goodput SLO on time per output token (0: none)");
  f.AddDouble("timeout-s", &v->timeout_s, "per-request deadline");
  f.AddInt("channels", &v->channels, "--target: HTTP/2 connections");
  f.AddString("json-out", &v->json_out, "write the summary as JSON to this file");
  f.AddString("label", &v->label, "name of this run in the report");
  f.AddInt("threads", &v->threads, "--engine: CPU backend threads (0: all)");
  f.AddInt("max-running", &v->max_running, "--engine: sequences per step");
  f.AddInt("max-batched-tokens", &v->max_batched_tokens, "--engine: tokens per step");
  f.AddInt("block-size", &v->block_size, "--engine: tokens per KV block");
  f.AddInt("kv-blocks", &v->kv_blocks, "--engine: KV blocks (0: backend default)");
  f.AddDouble("min-step-ms", &v->min_step_ms, "--engine: as corvid-worker --min-step-ms");
}

absl::StatusOr<std::unique_ptr<lg::Driver>> MakeDriver(const Flags& v) {
  if (!v.target.empty() == !v.engine.empty()) {
    return absl::InvalidArgumentError("give exactly one of --target and --engine");
  }
  if (!v.target.empty()) return lg::MakeGrpcDriver(v.target, static_cast<int>(v.channels));
  lg::EngineDriverOptions o;
  o.model_dir = v.engine;
  o.backend = v.backend;
  o.threads = static_cast<int>(v.threads);
  o.max_running = static_cast<int>(v.max_running);
  o.max_batched_tokens = static_cast<int>(v.max_batched_tokens);
  o.block_size = static_cast<int>(v.block_size);
  o.kv_blocks = static_cast<int>(v.kv_blocks);
  o.min_step_ms = v.min_step_ms;
  return lg::MakeEngineDriver(o);
}

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "corvid-loadgen: %s\n", std::string(s.message()).c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  Flags v;
  corvid::service::FlagSet flags("corvid-loadgen (--target HOST:PORT | --engine DIR) [flags]");
  Register(flags, &v);
  absl::Status parsed = flags.Parse(argc, argv);
  if (flags.help_requested()) {
    std::fputs(flags.Usage().c_str(), stdout);
    return 0;
  }
  if (!parsed.ok()) return Fail(parsed);
  if (v.mode != "open" && v.mode != "closed") return Fail(absl::InvalidArgumentError("--mode"));
  auto driver = MakeDriver(v);
  if (!driver.ok()) return Fail(driver.status());
  lg::WorkloadOptions w;
  auto in = lg::LengthDist::Parse(v.input_len);
  auto out = lg::LengthDist::Parse(v.output_len);
  if (!in.ok()) return Fail(in.status());
  if (!out.ok()) return Fail(out.status());
  w.input_len = *in;
  w.output_len = *out;
  w.prompt_file = v.prompt_file;
  w.vocab_size = (*driver)->vocab_size();
  w.seed = static_cast<uint64_t>(v.seed);
  w.rate = v.rate;
  w.burst = static_cast<int>(v.burst);
  lg::RunOptions run;
  run.closed_loop = v.mode == "closed";
  run.concurrency = static_cast<int>(v.concurrency);
  run.timeout = absl::Seconds(v.timeout_s);
  if (v.warmup > 0) {
    lg::WorkloadOptions warm = w;
    warm.num_requests = static_cast<int>(v.warmup);
    warm.seed = w.seed + 1000;
    auto specs = lg::BuildWorkload(warm);
    if (!specs.ok()) return Fail(specs.status());
    (*driver)->Run(*specs, run);
  }
  w.num_requests = static_cast<int>(v.num_requests);
  auto specs = lg::BuildWorkload(w);
  if (!specs.ok()) return Fail(specs.status());
  std::vector<lg::RequestRecord> records = (*driver)->Run(*specs, run);
  lg::Summary summary = lg::Summarize(records, lg::Slo{v.slo_ttft_ms, v.slo_tpot_ms});
  const std::string label = v.label.empty() ? (v.target.empty() ? "engine" : "services") : v.label;
  std::fputs(lg::ToText(summary, label).c_str(), stdout);
  if (!v.json_out.empty()) {
    std::ofstream(v.json_out) << lg::ToJson(summary, label) << "\n";
  }
  return 0;
}
