// The Llama forward pass on the GPU (internal to the CUDA backend): owns the activation
// buffers and the paged KV cache, and launches one step's kernels on one stream. Holds no
// per-step host state, so the same launches can be captured into a CUDA graph.
#ifndef CORVID_ENGINE_CUDA_MODEL_RUNNER_H_
#define CORVID_ENGINE_CUDA_MODEL_RUNNER_H_

#include <cuda_runtime.h>

#include <memory>

#include "absl/status/statusor.h"
#include "engine/cuda/device_memory.h"
#include "engine/cuda/device_weights.h"
#include "engine/cuda/gemm.h"
#include "engine/cuda/l2_warmer.h"
#include "engine/cuda/step_inputs.h"
#include "engine/model_config.h"
#include "kernels/kernel_api.h"

namespace corvid::cuda {

struct RunnerShape {
  int max_tokens = 0;  // activation rows
  int max_seqs = 0;    // logits rows and decode-attention rows
  int block_size = 16;
  int split_tokens = 192;  // split-KV range (see kernels/paged_attention.h; docs/perf.md s4-attn)
  int split_cap = 16;
};

class ModelRunner {
 public:
  static absl::StatusOr<std::unique_ptr<ModelRunner>> Create(const ModelConfig& config,
                                                             DeviceWeights weights,
                                                             GemmDispatcher* gemm,
                                                             cudaStream_t stream,
                                                             const RunnerShape& shape);

  // Bytes of one KV block (all layers, K and V).
  int64_t KvBlockBytes() const;
  absl::Status AllocateKv(int num_blocks);
  int num_blocks() const { return num_blocks_; }

  // Launches the step described by `plan` over the metadata in `arrays`; logits land in
  // logits() (fp32, [plan.num_logit_rows, vocab]).
  absl::Status Forward(const ForwardPlan& plan, const StepArrays& arrays);

  float* logits() const { return logits_.as<float>(); }
  bool has_prefill_kernel() const { return prefill_kernel_; }
  const RunnerShape& shape() const { return shape_; }
  const DeviceWeights& weights() const { return weights_; }
  int64_t activation_bytes() const { return activation_bytes_; }

 private:
  ModelRunner(const ModelConfig& config, DeviceWeights weights, GemmDispatcher* gemm,
              cudaStream_t stream, const RunnerShape& shape);
  absl::Status AllocateActivations();
  absl::Status Layer(int l, const ForwardPlan& plan, const StepArrays& a);
  absl::Status Attention(int l, const ForwardPlan& plan, const StepArrays& a);
  void* KCache(int l) const;
  void* VCache(int l) const;

  ModelConfig config_;
  DeviceWeights weights_;
  GemmDispatcher* gemm_;
  cudaStream_t stream_;
  RunnerShape shape_;
  kernels::DataType kdtype_;
  bool prefill_kernel_ = false;
  int partial_rows_ = 0;
  int64_t activation_bytes_ = 0;
  int num_blocks_ = 0;

  DeviceBuffer residual_, normed_, qkv_, q_, attn_, proj_, gate_up_, act_, logits_;
  DeviceBuffer partial_out_, partial_ml_, split_counters_, inv_freq_, kv_;
  std::unique_ptr<L2Warmer> warmer_;
};

}  // namespace corvid::cuda

#endif  // CORVID_ENGINE_CUDA_MODEL_RUNNER_H_
