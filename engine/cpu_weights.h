// The CPU backend's copy of the model: every tensor converted to fp32 once at load, in one
// 64-byte-aligned arena, with the projections that read the same input fused into one matrix
// (q|k|v and gate|up) so that each step streams that input once and runs fewer parallel loops.
#ifndef CORVID_ENGINE_CPU_WEIGHTS_H_
#define CORVID_ENGINE_CPU_WEIGHTS_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/model_config.h"
#include "engine/weights.h"

namespace corvid {

// 64-byte-aligned float storage (cache lines, full AVX-512 vectors).
class AlignedFloats {
 public:
  AlignedFloats() = default;
  // RESOURCE_EXHAUSTED when the allocation fails.
  static absl::StatusOr<AlignedFloats> Allocate(int64_t count);
  float* data() const { return data_.get(); }
  int64_t size() const { return size_; }

 private:
  struct Free {
    void operator()(float* p) const;
  };
  std::unique_ptr<float, Free> data_;
  int64_t size_ = 0;
};

struct CpuLayerWeights {
  const float* attn_norm = nullptr;  // [H]
  const float* qkv = nullptr;        // [q_dim + 2 kv_dim, H]: q rows, then k, then v
  const float* qkv_bias = nullptr;   // [q_dim + 2 kv_dim] or nullptr
  const float* o = nullptr;          // [H, q_dim]
  const float* o_bias = nullptr;     // [H] or nullptr
  const float* mlp_norm = nullptr;   // [H]
  const float* gate_up = nullptr;    // [2 I, H]: gate rows, then up rows
  const float* down = nullptr;       // [H, I]
};

struct CpuWeights {
  AlignedFloats arena;
  const float* embed = nullptr;     // [V, H]
  std::vector<CpuLayerWeights> layers;
  const float* final_norm = nullptr;  // [H]
  const float* lm_head = nullptr;     // [V, H]; == embed when tied
  int64_t bytes_per_token_step = 0;  // weight bytes one decode step reads (all but embed rows)
};

// Converts `store`'s tensors (F32, F16 or BF16) for `config`. Errors name the tensor when one is
// missing, has an unexpected shape or an unsupported dtype.
absl::StatusOr<CpuWeights> LoadCpuWeights(const ModelConfig& config, const WeightStore& store);

}  // namespace corvid

#endif  // CORVID_ENGINE_CPU_WEIGHTS_H_
