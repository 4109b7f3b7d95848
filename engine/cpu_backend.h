// The CPU backend: a multi-threaded fp32 implementation of Backend, the numerical reference for
// every GPU kernel and good enough to serve tiny models.
#ifndef CORVID_ENGINE_CPU_BACKEND_H_
#define CORVID_ENGINE_CPU_BACKEND_H_

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "engine/backend.h"
#include "engine/model_config.h"
#include "engine/weights.h"

namespace corvid {

struct CpuBackendOptions {
  int num_threads = 0;  // 0 = every core the process may use
  int block_size = 16;  // tokens per KV block
  // KV cache size: num_kv_blocks when > 0, else as many blocks as fit in kv_cache_bytes.
  int num_kv_blocks = 0;
  int64_t kv_cache_bytes = int64_t{256} << 20;
};

// Converts the weights to fp32 (the store may be released afterwards) and allocates the KV
// cache. Execute() must be called from one thread at a time (the engine's); it runs each step
// on the backend's own thread team. INVALID_ARGUMENT for unusable options or weights (naming the
// tensor), RESOURCE_EXHAUSTED when memory cannot be had.
absl::StatusOr<std::unique_ptr<Backend>> CreateCpuBackend(const ModelConfig& config,
                                                          const WeightStore& weights,
                                                          const CpuBackendOptions& options);

// Bytes of weights one decode step reads (the bandwidth roofline's numerator), for benchmarks.
// -1 when `backend` is not a CPU backend.
int64_t CpuBackendWeightBytesPerStep(const Backend& backend);

}  // namespace corvid

#endif  // CORVID_ENGINE_CPU_BACKEND_H_
