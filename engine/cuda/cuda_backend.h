// The CUDA backend: the Llama forward pass on one NVIDIA GPU with corvid's kernels (paged
// attention, fused norms/RoPE, batch-invariant tensor-core GEMMs), on-device sampling and CUDA
// graphs for decode steps. No CUDA types here: the engine and tools include this header
// whether or not they are compiled by nvcc.
//
// Threading: one thread owns a CudaBackend (the CUDA context is made current on every call).
// Determinism: a sequence's logits and greedy tokens do not depend on the other sequences of
// the step (see kernels/tiled_gemm.h and kernels/paged_attention.h), unless
// batch_invariant is turned off (then cuBLAS may be picked for speed).
#ifndef CORVID_ENGINE_CUDA_CUDA_BACKEND_H_
#define CORVID_ENGINE_CUDA_CUDA_BACKEND_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "engine/backend.h"
#include "engine/model_config.h"
#include "engine/weights.h"

namespace corvid {

struct CudaBackendOptions {
  int device = 0;
  int block_size = 16;
  // Bytes this backend may take on the GPU in total (weights + activations + KV cache), e.g.
  // 24 << 30 to behave as on a 24 GB card; 0 = memory_fraction of the free memory.
  int64_t gpu_memory_budget = 0;
  double memory_fraction = 0.90;
  int num_kv_blocks = 0;            // > 0: exactly this many KV blocks (tests)
  int max_num_seqs = 256;           // sequences per step
  int max_num_batched_tokens = 2048;  // query tokens per step
  int max_model_len = 0;            // 0 = config.max_position_embeddings
  bool cuda_graphs = true;          // capture pure-decode steps, per padded batch size
  bool batch_invariant = true;      // false: cuBLAS / skinny GEMMs may be chosen (faster)
  bool autotune = true;             // time the GEMM candidates at start-up
  // Weights come from the WeightStore unless it is null: then seeded random weights are
  // generated on the device (benchmarks) in `dtype`. F32 checkpoints compute in `dtype` too.
  uint64_t dummy_seed = 0;
  DType dtype = DType::kBF16;
};

// True when a CUDA device can be used; otherwise `why` says why not (driver, no device...).
bool CudaDeviceAvailable(std::string* why);

absl::StatusOr<std::unique_ptr<Backend>> CreateCudaBackend(const ModelConfig& config,
                                                           const WeightStore* weights,
                                                           const CudaBackendOptions& options);

// What a CUDA backend holds (for benchmarks and logs).
struct CudaBackendInfo {
  std::string device_name;
  int sm_count = 0;
  int64_t weight_bytes = 0;
  int64_t activation_bytes = 0;
  int64_t kv_bytes = 0;
  int num_kv_blocks = 0;
  std::string gemm_table;  // the autotuned GEMM choices
};
absl::StatusOr<CudaBackendInfo> DescribeCudaBackend(const Backend& backend);

}  // namespace corvid

#endif  // CORVID_ENGINE_CUDA_CUDA_BACKEND_H_
