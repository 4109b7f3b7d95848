// Picks and builds the compute backend for the CLI commands: CPU, or CUDA when this binary was
// built with it and a GPU is usable.
#ifndef CORVID_TOOLS_CORVID_BACKEND_FACTORY_H_
#define CORVID_TOOLS_CORVID_BACKEND_FACTORY_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "engine/backend.h"
#include "engine/engine.h"
#include "engine/model_config.h"

namespace corvid::cli {

enum class BackendKind { kAuto, kCpu, kCuda };

struct BackendChoice {
  BackendKind kind = BackendKind::kAuto;
  int threads = 0;             // CPU backend threads, 0 = all cores
  bool dummy_weights = false;  // seeded random weights instead of the model's files
};

// "auto", "cpu" or "cuda"; INVALID_ARGUMENT naming --backend otherwise.
absl::StatusOr<BackendKind> ParseBackendKind(const std::string& name);

struct LoadedBackend {
  std::unique_ptr<Backend> backend;
  std::string description;  // e.g. "cpu, 4 threads" for the summary line
};

// Loads (or fakes) the weights of `model_dir` and builds the backend, sized for an engine
// running with `engine_options`. kAuto picks CUDA when this binary has it and a GPU is usable.
// `--backend cuda` on a build without CUDA or a machine without a usable GPU is
// FAILED_PRECONDITION saying which.
absl::StatusOr<LoadedBackend> CreateBackend(const std::string& model_dir,
                                            const ModelConfig& config,
                                            const BackendChoice& choice,
                                            const EngineOptions& engine_options);

}  // namespace corvid::cli

#endif  // CORVID_TOOLS_CORVID_BACKEND_FACTORY_H_
