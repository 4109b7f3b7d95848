#include "services/worker/backend_factory.h"

#include "absl/strings/str_cat.h"
#include "engine/cpu_backend.h"
#include "services/common/logging.h"
#ifdef CORVID_HAVE_CUDA
#include "engine/cuda/cuda_backend.h"
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
#ifdef CORVID_HAVE_CUDA
  std::string why;
  const bool gpu = CudaDeviceAvailable(&why);
  if (c.backend == "cuda" && !gpu) {
    return absl::FailedPreconditionError(absl::StrCat("--backend=cuda: no usable GPU: ", why));
  }
  if (c.backend != "cpu" && gpu) {
    CudaBackendOptions options;
    options.block_size = static_cast<int>(c.block_size);
    options.num_kv_blocks = static_cast<int>(c.kv_blocks);
    options.max_num_seqs = static_cast<int>(c.max_running);
    options.max_num_batched_tokens = static_cast<int>(c.max_batched_tokens);
    options.max_model_len = static_cast<int>(c.max_model_len);
    options.gpu_memory_budget = c.gpu_memory_budget_mb << 20;
    return CreateCudaBackend(model, &weights, options);
  }
  if (c.backend == "auto") {
    service::LogInfo("no usable GPU, using the CPU backend", {{"why", why}});
  }
#else
  if (c.backend == "cuda") {
    return absl::FailedPreconditionError("--backend=cuda: this build has no CUDA backend");
  }
#endif
  return CreateCpu(c, model, weights);
}

}  // namespace corvid::worker
