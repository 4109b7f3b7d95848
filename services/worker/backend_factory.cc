#include "services/worker/backend_factory.h"

#include "engine/cpu_backend.h"
#include "services/common/logging.h"
#if defined(CORVID_HAVE_CUDA) && __has_include("engine/cuda/cuda_backend.h")
#include "engine/cuda/cuda_backend.h"
#define CORVID_WORKER_CUDA 1
#endif

namespace corvid::worker {
namespace {

absl::StatusOr<std::unique_ptr<Backend>> CreateCpu(const WorkerConfig& c, const ModelConfig& model,
                                                   const WeightStore& weights) {
  CpuBackendOptions options;
  options.num_threads = static_cast<int>(c.threads);
  options.block_size = static_cast<int>(c.block_size);
  options.num_kv_blocks = static_cast<int>(c.kv_blocks);
  options.kv_cache_bytes = c.kv_cache_mb << 20;
  return CreateCpuBackend(model, weights, options);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Backend>> CreateBackend(const WorkerConfig& c,
                                                       const ModelConfig& model,
                                                       const WeightStore& weights) {
#ifdef CORVID_WORKER_CUDA
  if (c.backend != "cpu") {
    CudaBackendOptions options;
    options.block_size = static_cast<int>(c.block_size);
    options.num_kv_blocks = static_cast<int>(c.kv_blocks);
    auto cuda = CreateCudaBackend(model, weights, options);
    if (cuda.ok() || c.backend == "cuda") return cuda;
    service::LogWarning("CUDA backend unavailable, using the CPU backend",
                        {{"error", std::string(cuda.status().message())}});
  }
#else
  if (c.backend == "cuda") {
    return absl::FailedPreconditionError("--backend=cuda: this build has no CUDA backend");
  }
#endif
  return CreateCpu(c, model, weights);
}

}  // namespace corvid::worker
