#include "services/scheduler/scheduler_flags.h"

#include "absl/strings/str_cat.h"
#include "engine/status_macros.h"
#include "services/scheduler/worker_discovery.h"

namespace corvid::scheduler {

void RegisterSchedulerFlags(service::FlagSet& flags, SchedulerConfig* c) {
  c->server.listen = "0.0.0.0:50050";
  c->server.metrics_port = 9090;
  service::RegisterServerFlags(flags, &c->server);
  flags.AddRepeated("worker", &c->workers,
                    "corvid-worker address HOST:PORT, or dns:///NAME:PORT for every address NAME "
                    "resolves to (a headless Kubernetes service; repeatable)");
  flags.AddDouble("worker-resolve-s", &c->worker_resolve_s,
                  "how often dns: worker names are resolved again");
  flags.AddString("model-name", &c->model_name,
                  "the model served (workers serving another are ignored; empty: the first "
                  "worker's)");
  flags.AddRepeated("tokenizer", &c->tokenizers,
                    "corvid-tokenizer replica address HOST:PORT (repeatable)");
  flags.AddString("tokenizer-model", &c->tokenizer_model,
                  "model name on the tokenizer replicas (empty: their default)");
  flags.AddInt("max-queued-requests", &c->max_queued_requests,
               "requests that may wait for a worker; more get RESOURCE_EXHAUSTED");
  flags.AddInt("max-queued-prompt-tokens", &c->max_queued_prompt_tokens,
               "prompt tokens that may wait for a worker; more get RESOURCE_EXHAUSTED");
  flags.AddInt("max-admissions-per-message", &c->max_admissions_per_message,
               "admissions grouped in one message to a worker (0: no limit)");
  flags.AddInt("detok-max-in-flight", &c->detok_max_in_flight,
               "DetokenizeStream messages awaiting answers per tokenizer stream");
  flags.AddBool("prefix-affinity", &c->prefix_affinity,
                "route a prompt to the worker that was sent the longest prefix of it (workers "
                "with prefix caching), unless it is much busier (--prefix-affinity=false: least "
                "loaded only)");
  flags.AddDouble("prefix-affinity-max-load-gap", &c->prefix_affinity_max_load_gap,
                  "how much busier (utilization 0..1) than the least loaded worker the "
                  "matching worker may be and still get the request");
  flags.AddInt("prefix-affinity-entries", &c->prefix_affinity_entries,
               "(block, worker) pairs the affinity table remembers (LRU)");
}

absl::Status ValidateSchedulerConfig(const SchedulerConfig& c) {
  RETURN_IF_ERROR(service::ValidateServerFlags(c.server));
  if (c.workers.empty()) return absl::InvalidArgumentError("--worker: give at least one");
  for (const std::string& w : c.workers) {
    auto dns = ParseDnsTarget(w);
    if (!dns.ok() && dns.status().code() != absl::StatusCode::kNotFound) {
      return absl::InvalidArgumentError(absl::StrCat("--worker=", w, ": ", dns.status().message()));
    }
    if (!dns.ok() && w.find(':') == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("--worker=", w, ": expected HOST:PORT"));
    }
  }
  if (!(c.worker_resolve_s > 0)) return absl::InvalidArgumentError("--worker-resolve-s must be > 0");
  if (c.tokenizers.empty()) return absl::InvalidArgumentError("--tokenizer: give at least one");
  if (c.max_queued_requests < 1 || c.max_queued_requests > (1 << 24)) {
    return absl::InvalidArgumentError("--max-queued-requests: expected 1..16777216");
  }
  if (c.max_queued_prompt_tokens < 1) {
    return absl::InvalidArgumentError("--max-queued-prompt-tokens must be >= 1");
  }
  if (c.max_admissions_per_message < 0) {
    return absl::InvalidArgumentError("--max-admissions-per-message must be >= 0");
  }
  if (c.detok_max_in_flight < 1 || c.detok_max_in_flight > 64) {
    return absl::InvalidArgumentError("--detok-max-in-flight: expected 1..64");
  }
  if (!(c.prefix_affinity_max_load_gap >= 0 && c.prefix_affinity_max_load_gap <= 1)) {
    return absl::InvalidArgumentError("--prefix-affinity-max-load-gap: expected 0..1");
  }
  if (c.prefix_affinity_entries < 1 || c.prefix_affinity_entries > (1 << 24)) {
    return absl::InvalidArgumentError("--prefix-affinity-entries: expected 1..16777216");
  }
  return absl::OkStatus();
}

SchedulerOptions SchedulerConfig::ToOptions() const {
  SchedulerOptions o;
  o.queue.max_requests = static_cast<int>(max_queued_requests);
  o.queue.max_prompt_tokens = max_queued_prompt_tokens;
  o.max_admissions_per_message = static_cast<int>(max_admissions_per_message);
  o.detok_max_in_flight = static_cast<int>(detok_max_in_flight);
  o.model_name = model_name;
  o.affinity.enabled = prefix_affinity;
  o.affinity.max_load_gap = prefix_affinity_max_load_gap;
  o.affinity.max_entries = static_cast<int>(prefix_affinity_entries);
  return o;
}

TokenizerPoolOptions SchedulerConfig::ToTokenizerOptions() const {
  TokenizerPoolOptions o;
  o.model = tokenizer_model;
  return o;
}

}  // namespace corvid::scheduler
