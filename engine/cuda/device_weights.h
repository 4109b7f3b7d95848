// The model's weights on the GPU, in the layout the forward pass wants: q/k/v fused into one
// [q + 2 kv, hidden] matrix, gate/up fused into [2 * inter, hidden], down_proj rows padded to a
// multiple of 8 elements (16-byte loads), all in one allocation of the activation type.
#ifndef CORVID_ENGINE_CUDA_DEVICE_WEIGHTS_H_
#define CORVID_ENGINE_CUDA_DEVICE_WEIGHTS_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/cuda/device_memory.h"
#include "engine/model_config.h"
#include "engine/weights.h"

namespace corvid::cuda {

struct DeviceLayerWeights {
  void* input_norm = nullptr;  // [hidden]
  void* qkv = nullptr;         // [q_dim + 2 kv_dim, hidden]
  void* qkv_bias = nullptr;    // [q_dim + 2 kv_dim] or nullptr
  void* o = nullptr;           // [hidden, q_dim]
  void* post_norm = nullptr;   // [hidden]
  void* gate_up = nullptr;     // [2 inter, hidden]
  void* down = nullptr;        // [hidden, inter_padded]
};

struct DeviceWeights {
  DeviceBuffer arena;
  DType dtype = DType::kBF16;  // F16 or BF16
  int inter_padded = 0;
  void* embed = nullptr;       // [vocab, hidden]
  void* final_norm = nullptr;  // [hidden]
  void* lm_head = nullptr;     // [vocab, hidden] (== embed when tied)
  std::vector<DeviceLayerWeights> layers;
};

// Copies `store`'s tensors to the device, converting to `dtype` (F16 or BF16) where needed.
absl::StatusOr<DeviceWeights> UploadWeights(const ModelConfig& config, const WeightStore& store,
                                            DType dtype);

// Seeded random weights generated on the device (no host copy): matrices ~ U(-a, a) with
// a = 1 / sqrt(fan_in), norms 1.0. For benchmarks.
absl::StatusOr<DeviceWeights> RandomDeviceWeights(const ModelConfig& config, DType dtype,
                                                  uint64_t seed);

// Bytes of weights the layout above needs (for memory planning).
int64_t DeviceWeightBytes(const ModelConfig& config, DType dtype);

}  // namespace corvid::cuda

#endif  // CORVID_ENGINE_CUDA_DEVICE_WEIGHTS_H_
