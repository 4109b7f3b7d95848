// The CPU backend's copy of the model: every tensor converted to fp32 once at load into one
// 64-byte-aligned arena. Matrices are packed into panels (cpu_matmul.h), and projections that
// read the same input are fused into one matrix (q|k|v and gate|up) so that each step streams
// that input once and runs fewer parallel loops.
#ifndef CORVID_ENGINE_CPU_WEIGHTS_H_
#define CORVID_ENGINE_CPU_WEIGHTS_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/cpu_matmul.h"
#include "engine/model_config.h"
#include "engine/weights.h"

namespace corvid {

// 64-byte-aligned float storage (cache lines, full AVX-512 vectors).
class AlignedFloats {
 public:
  AlignedFloats() = default;
  // Zero-filled. RESOURCE_EXHAUSTED when the allocation fails.
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
  PackedMatrix qkv;                  // [q_dim + 2 kv_dim, H]: q rows, then k, then v
  const float* qkv_bias = nullptr;   // [q_dim + 2 kv_dim] or nullptr
  PackedMatrix o;                    // [H, q_dim]
  const float* o_bias = nullptr;     // [H] or nullptr
  const float* mlp_norm = nullptr;   // [H]
  PackedMatrix gate_up;              // [2 I, H]: gate rows, then up rows
  PackedMatrix down;                 // [H, I]
};

struct CpuWeights {
  AlignedFloats arena;
  const float* embed = nullptr;  // [V, H] row-major; nullptr when tied (rows come from lm_head)
  std::vector<CpuLayerWeights> layers;
  const float* final_norm = nullptr;  // [H]
  PackedMatrix lm_head;               // [V, H]
  int64_t bytes_per_token_step = 0;   // weight bytes one decode step reads (padding included)
};

// Converts `store`'s tensors (F32, F16 or BF16) for `config`. Errors name the tensor when one is
// missing, has an unexpected shape or an unsupported dtype.
absl::StatusOr<CpuWeights> LoadCpuWeights(const ModelConfig& config, const WeightStore& store);

}  // namespace corvid

#endif  // CORVID_ENGINE_CPU_WEIGHTS_H_
