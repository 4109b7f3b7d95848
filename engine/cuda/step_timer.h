// Optional GPU-side timing of the phases of a step (CORVID_STEP_TIMING=1; internal to the CUDA
// backend): events recorded on the stream between phases, read after the step's own final
// synchronisation (so no extra host wait), medians printed per kind of step when the backend
// is destroyed. Tells the forward pass apart from the sampling tail and from host overhead
// (wall time minus the sum).
#ifndef CORVID_ENGINE_CUDA_STEP_TIMER_H_
#define CORVID_ENGINE_CUDA_STEP_TIMER_H_

#include <cuda_runtime.h>

#include <array>
#include <map>
#include <vector>

namespace corvid::cuda {

class StepTimer {
 public:
  static constexpr int kMarks = 3;  // step start, forward done, results copied back

  StepTimer();
  ~StepTimer();
  StepTimer(const StepTimer&) = delete;
  StepTimer& operator=(const StepTimer&) = delete;

  bool enabled() const { return enabled_; }
  void Mark(int i, cudaStream_t stream);
  // After the stream is synchronised: files the step's phase times under `kind` (e.g. the
  // decode bucket, 0 for other steps).
  void Finish(int kind);

 private:
  bool enabled_ = false;
  std::array<cudaEvent_t, kMarks> events_{};
  std::array<bool, kMarks> marked_{};
  std::map<int, std::vector<std::array<float, kMarks - 1>>> times_;
};

}  // namespace corvid::cuda

#endif  // CORVID_ENGINE_CUDA_STEP_TIMER_H_
