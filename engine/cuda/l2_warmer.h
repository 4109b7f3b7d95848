// Warms L2 with a projection's weights on a side branch of the step (internal to the CUDA
// backend), while the kernels before that projection leave DRAM mostly idle (decode steps:
// RoPE, attention, the norms and SiLU*mul are latency-bound). Fork() branches off the main
// stream after the last launch (inside a CUDA-graph capture this becomes a parallel branch);
// Join() makes the main stream's next launch wait for the branch. Results never depend on it:
// it only prefetches. Two uses, each limited to the step sizes where it paid (l2_warmer.cc):
//   CORVID_L2_PREFETCH=N (default 1) the whole o weights during RoPE + attention, in steps of
//       at most N tokens (0: never);
//   CORVID_GEMM_PREFETCH_MIN=A, CORVID_GEMM_PREFETCH=B (default 16, 64) the first ~3 MB (the
//       first k of every row) of the qkv, gate_up and down weights during the kernel before
//       each, so that the GEMM's first loads hit L2, in steps of A..B tokens (B = 0: never).
#ifndef CORVID_ENGINE_CUDA_L2_WARMER_H_
#define CORVID_ENGINE_CUDA_L2_WARMER_H_

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"

namespace corvid::cuda {

class L2Warmer {
 public:
  static absl::StatusOr<std::unique_ptr<L2Warmer>> Create();
  ~L2Warmer();
  L2Warmer(const L2Warmer&) = delete;
  L2Warmer& operator=(const L2Warmer&) = delete;

  // Whether a step of `tokens` tokens warms the whole o weights / the heads.
  bool WarmsWhole(int tokens) const { return tokens <= whole_max_tokens_; }
  bool WarmsHeads(int tokens) const {
    return tokens >= head_min_tokens_ && tokens <= head_max_tokens_;
  }

  // Branch: prefetch a whole weight matrix of `bytes`.
  absl::Status ForkWhole(cudaStream_t main, const void* w, size_t bytes);
  // Branch: prefetch the first columns (~3 MB in all) of every row of an [n, ld] matrix.
  absl::Status ForkHead(cudaStream_t main, const void* w, int n, int ld);
  absl::Status Join(cudaStream_t main);

 private:
  L2Warmer() = default;
  absl::Status Fork(cudaStream_t main, const void* data, int rows, int64_t stride, int64_t bytes);

  int whole_max_tokens_ = 0, head_min_tokens_ = 0, head_max_tokens_ = 0;
  int blocks_ = 0;
  bool forked_ = false;
  cudaStream_t side_ = nullptr;
  cudaEvent_t fork_ = nullptr, join_ = nullptr;
};

}  // namespace corvid::cuda

#endif  // CORVID_ENGINE_CUDA_L2_WARMER_H_
