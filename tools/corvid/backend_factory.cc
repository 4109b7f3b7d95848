#include "tools/corvid/backend_factory.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/cpu_backend.h"
#include "engine/status_macros.h"
#include "engine/weights.h"
#ifdef CORVID_HAVE_CUDA
#include "engine/cuda/cuda_backend.h"
#endif

namespace corvid::cli {
namespace {

constexpr uint64_t kDummySeed = 0;

absl::StatusOr<std::unique_ptr<WeightStore>> LoadWeights(const std::string& model_dir,
                                                         const ModelConfig& config,
                                                         bool dummy) {
  if (dummy) return WeightStore::Dummy(config, config.dtype, kDummySeed);
  return WeightStore::Open(model_dir, config);
}

absl::StatusOr<LoadedBackend> CreateCpu(const std::string& model_dir, const ModelConfig& config,
                                        const BackendChoice& choice) {
  ASSIGN_OR_RETURN(std::unique_ptr<WeightStore> weights,
                   LoadWeights(model_dir, config, choice.dummy_weights));
  CpuBackendOptions options;
  options.num_threads = choice.threads;
  LoadedBackend loaded;
  // The CPU backend converts the weights to fp32, so the store can go when this returns.
  ASSIGN_OR_RETURN(loaded.backend, CreateCpuBackend(config, *weights, options));
  loaded.description = choice.threads > 0 ? absl::StrCat("cpu, ", choice.threads, choice.threads == 1 ? " thread" : " threads")
                                          : std::string("cpu");
  if (choice.dummy_weights) loaded.description += ", dummy weights";
  return loaded;
}

#ifdef CORVID_HAVE_CUDA
absl::StatusOr<LoadedBackend> CreateCuda(const std::string& model_dir, const ModelConfig& config,
                                         const BackendChoice& choice,
                                         const EngineOptions& engine_options) {
  std::unique_ptr<WeightStore> weights;  // null: the backend generates dummy weights on device
  if (!choice.dummy_weights) {
    ASSIGN_OR_RETURN(weights, WeightStore::Open(model_dir, config));
  }
  CudaBackendOptions options;
  options.max_num_seqs = engine_options.max_num_seqs;
  options.max_num_batched_tokens = engine_options.max_num_batched_tokens;
  options.max_model_len = engine_options.max_model_len;
  options.dummy_seed = kDummySeed;
  LoadedBackend loaded;
  // The weights are uploaded to the device, so the store can go when this returns.
  ASSIGN_OR_RETURN(loaded.backend, CreateCudaBackend(config, weights.get(), options));
  loaded.description = "cuda";
  if (auto info = DescribeCudaBackend(*loaded.backend); info.ok()) {
    loaded.description = absl::StrCat("cuda, ", info->device_name);
  }
  if (choice.dummy_weights) loaded.description += ", dummy weights";
  return loaded;
}
#endif

}  // namespace

absl::StatusOr<BackendKind> ParseBackendKind(const std::string& name) {
  if (name == "auto") return BackendKind::kAuto;
  if (name == "cpu") return BackendKind::kCpu;
  if (name == "cuda") return BackendKind::kCuda;
  return absl::InvalidArgumentError(
      absl::StrCat("--backend must be auto, cpu or cuda, got '", name, "'"));
}

absl::StatusOr<LoadedBackend> CreateBackend(const std::string& model_dir,
                                            const ModelConfig& config,
                                            const BackendChoice& choice,
                                            const EngineOptions& engine_options) {
  if (choice.kind == BackendKind::kCpu) return CreateCpu(model_dir, config, choice);
#ifdef CORVID_HAVE_CUDA
  std::string why;
  if (CudaDeviceAvailable(&why)) return CreateCuda(model_dir, config, choice, engine_options);
  if (choice.kind == BackendKind::kCuda) {
    return absl::FailedPreconditionError(
        absl::StrCat("--backend cuda: no usable CUDA GPU (", why, ")"));
  }
#else
  if (choice.kind == BackendKind::kCuda) {
    return absl::FailedPreconditionError(
        "--backend cuda: this corvid was built without the CUDA backend");
  }
#endif
  return CreateCpu(model_dir, config, choice);
}

}  // namespace corvid::cli
