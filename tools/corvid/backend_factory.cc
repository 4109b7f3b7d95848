#include "tools/corvid/backend_factory.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/cpu_backend.h"
#include "engine/status_macros.h"
#include "engine/weights.h"

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
                                            const BackendChoice& choice) {
  if (choice.kind == BackendKind::kCuda) {
    return absl::FailedPreconditionError(
        "--backend cuda: this corvid was built without the CUDA backend");
  }
  return CreateCpu(model_dir, config, choice);
}

}  // namespace corvid::cli
