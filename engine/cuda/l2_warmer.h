// Warms L2 with a projection's weights on a side branch of the step (internal to the CUDA
// backend). In a decode step the KV reads of attention leave most of DRAM's bandwidth idle, and
// the o projection after it reads 33.5 MB of weights (Llama-3-8B) that fit in the H100's 50 MB
// L2: requested during attention, they are read from L2 by the GEMM. Fork() branches off the
// main stream (inside a CUDA-graph capture this becomes a parallel branch), Join() makes the
// main stream's next launch wait for the branch. Results never depend on it (it only
// prefetches). CORVID_L2_PREFETCH=0 turns it off (A/B timing).
#ifndef CORVID_ENGINE_CUDA_L2_WARMER_H_
#define CORVID_ENGINE_CUDA_L2_WARMER_H_

#include <cuda_runtime.h>

#include <cstddef>
#include <memory>

#include "absl/status/statusor.h"

namespace corvid::cuda {

class L2Warmer {
 public:
  // Disabled (Fork/Join do nothing) when CORVID_L2_PREFETCH=0.
  static absl::StatusOr<std::unique_ptr<L2Warmer>> Create();
  ~L2Warmer();
  L2Warmer(const L2Warmer&) = delete;
  L2Warmer& operator=(const L2Warmer&) = delete;

  absl::Status Fork(cudaStream_t main, const void* data, size_t bytes);
  absl::Status Join(cudaStream_t main);

 private:
  L2Warmer() = default;
  bool enabled_ = false;
  bool forked_ = false;
  cudaStream_t side_ = nullptr;
  cudaEvent_t fork_ = nullptr, join_ = nullptr;
};

}  // namespace corvid::cuda

#endif  // CORVID_ENGINE_CUDA_L2_WARMER_H_
