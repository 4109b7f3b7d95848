// corvid-scheduler's flags and the configuration they resolve to.
#ifndef CORVID_SERVICES_SCHEDULER_SCHEDULER_FLAGS_H_
#define CORVID_SERVICES_SCHEDULER_SCHEDULER_FLAGS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "services/common/flags.h"
#include "services/common/server_flags.h"
#include "services/scheduler/scheduler_core.h"
#include "services/scheduler/tokenizer_pool.h"

namespace corvid::scheduler {

struct SchedulerConfig {
  service::ServerFlags server;
  // HOST:PORT of each corvid-worker, or dns:///NAME:PORT resolved to one worker per address.
  std::vector<std::string> workers;
  std::vector<std::string> tokenizers;  // HOST:PORT of each corvid-tokenizer replica
  std::string tokenizer_model;          // empty = the tokenizers' default model
  std::string model_name;               // served model; empty = the first worker's
  double worker_resolve_s = 5;          // how often dns: worker names are resolved again
  int64_t max_queued_requests = 1024;
  int64_t max_queued_prompt_tokens = 1 << 20;
  int64_t max_admissions_per_message = 0;
  int64_t detok_max_in_flight = 4;
  bool prefix_affinity = true;
  double prefix_affinity_max_load_gap = 0.25;
  int64_t prefix_affinity_entries = 1 << 17;

  SchedulerOptions ToOptions() const;
  TokenizerPoolOptions ToTokenizerOptions() const;
};

void RegisterSchedulerFlags(service::FlagSet& flags, SchedulerConfig* config);
// INVALID_ARGUMENT naming the flag.
absl::Status ValidateSchedulerConfig(const SchedulerConfig& config);

}  // namespace corvid::scheduler

#endif  // CORVID_SERVICES_SCHEDULER_SCHEDULER_FLAGS_H_
