// The CUDA backend's class (internal: includes CUDA headers). See cuda_backend.h.
#ifndef CORVID_ENGINE_CUDA_CUDA_BACKEND_IMPL_H_
#define CORVID_ENGINE_CUDA_CUDA_BACKEND_IMPL_H_

#include <cuda_runtime.h>

#include <memory>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/device_memory.h"
#include "engine/cuda/gemm.h"
#include "engine/cuda/graph_cache.h"
#include "engine/cuda/step_timer.h"
#include "engine/cuda/model_runner.h"
#include "engine/cuda/step_inputs.h"
#include "kernels/sampling.h"

namespace corvid::cuda {

class CudaBackendImpl final : public Backend {
 public:
  ~CudaBackendImpl() override;

  std::string Name() const override { return "cuda"; }
  const ModelConfig& config() const override { return config_; }
  KvCacheGeometry kv_geometry() const override;
  absl::Status Execute(const StepBatch& batch, StepResult* result) override;

  const CudaBackendInfo& info() const { return info_; }

 private:
  friend absl::StatusOr<std::unique_ptr<Backend>> Create(const ModelConfig&, const WeightStore*,
                                                         const CudaBackendOptions&);
  CudaBackendImpl() = default;

  int DecodeBucket(int num_seqs) const;
  absl::Status SampleAndCollect(const StepBatch& batch, StepResult* result);
  absl::Status EnsureEntryCapacity(size_t entries);

  ModelConfig config_;
  CudaBackendOptions options_;
  CudaBackendInfo info_;
  cudaStream_t stream_ = nullptr;
  std::unique_ptr<GemmDispatcher> gemm_;
  std::unique_ptr<ModelRunner> runner_;
  std::unique_ptr<StepInputs> inputs_;
  GraphCache graphs_;
  StepTimer step_timer_;
  int step_kind_ = 0;  // the decode bucket of the step in flight (0: not a graphed decode step)
  std::vector<int> buckets_;

  // Sampling I/O: rows and results are sized for max_num_seqs, entries grow on demand.
  std::vector<kernels::SamplingRow> rows_;
  std::vector<kernels::PenaltyEntry> entries_;
  DeviceBuffer d_rows_, d_results_, d_entries_;
  PinnedBuffer h_rows_, h_results_, h_entries_, h_logits_;
};

// Builds a backend (cuda_backend_create.cc).
absl::StatusOr<std::unique_ptr<Backend>> Create(const ModelConfig& config,
                                                const WeightStore* weights,
                                                const CudaBackendOptions& options);

}  // namespace corvid::cuda

#endif  // CORVID_ENGINE_CUDA_CUDA_BACKEND_IMPL_H_
