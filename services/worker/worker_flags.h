// corvid-worker's flags and the configuration they resolve to.
#ifndef CORVID_SERVICES_WORKER_WORKER_FLAGS_H_
#define CORVID_SERVICES_WORKER_WORKER_FLAGS_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "services/common/flags.h"
#include "services/common/server_flags.h"

namespace corvid::worker {

struct WorkerConfig {
  service::ServerFlags server;
  std::string model_dir;
  std::string model_name;  // served name; default: the model directory's base name
  std::string backend = "auto";  // auto (CUDA when built with it and a GPU is present), cpu, cuda
  int64_t max_sequences = 64;        // live requests held at once
  int64_t max_running = 32;          // sequences per engine step
  int64_t max_batched_tokens = 512;  // tokens per engine step
  int64_t max_model_len = 0;         // 0 = the model's context length
  int64_t threads = 0;               // CPU backend threads (0 = all cores)
  int64_t block_size = 16;           // tokens per KV block
  int64_t kv_blocks = 0;             // KV cache size in blocks (0 = from kv_cache_mb)
  int64_t kv_cache_mb = 256;
  int64_t gpu_memory_budget_mb = 0;  // CUDA: bytes the backend may take in all (0 = 90% of free)
  double health_poll_s = 0.1;
  bool enable_prefix_caching = true;  // reuse cached KV of repeated prompt prefixes
  double min_step_ms = 0;  // pace the engine (tests, demos); 0 = as fast as it goes  // how often the engine's liveness is checked for health
};

// Registers every flag on `flags`, bound to `config` (whose values are the defaults).
void RegisterWorkerFlags(service::FlagSet& flags, WorkerConfig* config);
// INVALID_ARGUMENT naming the flag; fills model_name when empty.
absl::Status ResolveWorkerConfig(WorkerConfig* config);

}  // namespace corvid::worker

#endif  // CORVID_SERVICES_WORKER_WORKER_FLAGS_H_
