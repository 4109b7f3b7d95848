// Builds the compute backend a worker runs: the CUDA backend when the build has it and a GPU is
// present (or when asked for), else the CPU backend.
#ifndef CORVID_SERVICES_WORKER_BACKEND_FACTORY_H_
#define CORVID_SERVICES_WORKER_BACKEND_FACTORY_H_

#include <memory>

#include "absl/status/statusor.h"
#include "engine/backend.h"
#include "engine/model_config.h"
#include "engine/weights.h"
#include "services/worker/worker_flags.h"

namespace corvid::worker {

// FAILED_PRECONDITION when --backend=cuda cannot be honoured (no CUDA in this build, or no GPU).
absl::StatusOr<std::unique_ptr<Backend>> CreateBackend(const WorkerConfig& config,
                                                       const ModelConfig& model,
                                                       const WeightStore& weights);

}  // namespace corvid::worker

#endif  // CORVID_SERVICES_WORKER_BACKEND_FACTORY_H_
