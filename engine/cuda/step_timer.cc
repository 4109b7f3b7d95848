#include "engine/cuda/step_timer.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace corvid::cuda {

StepTimer::StepTimer() {
  const char* env = std::getenv("CORVID_STEP_TIMING");
  enabled_ = env != nullptr && env[0] == '1';
  for (int i = 0; enabled_ && i < kMarks; ++i) {
    enabled_ = cudaEventCreate(&events_[i]) == cudaSuccess;
  }
}

StepTimer::~StepTimer() {
  for (const auto& [kind, steps] : times_) {
    std::fprintf(stderr, "step timing (%s %d, %zu steps): median",
                 kind > 0 ? "decode bucket" : "other", kind, steps.size());
    const char* names[kMarks - 1] = {"forward", "sampling tail"};
    for (int p = 0; p + 1 < kMarks; ++p) {
      std::vector<float> v;
      for (const auto& s : steps) v.push_back(s[p]);
      std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
      std::fprintf(stderr, " %s %.1f us%s", names[p], v[v.size() / 2], p + 2 < kMarks ? "," : "\n");
    }
  }
  for (cudaEvent_t e : events_) {
    if (e != nullptr) cudaEventDestroy(e);
  }
}

void StepTimer::Mark(int i, cudaStream_t stream) {
  if (!enabled_) return;
  marked_[i] = cudaEventRecord(events_[i], stream) == cudaSuccess;
}

void StepTimer::Finish(int kind) {
  if (!enabled_) return;
  std::array<float, kMarks - 1> t{};
  bool ok = true;
  for (int p = 0; p + 1 < kMarks; ++p) {
    float ms = 0.0f;
    ok = ok && marked_[p] && marked_[p + 1] &&
         cudaEventElapsedTime(&ms, events_[p], events_[p + 1]) == cudaSuccess;
    t[p] = ms * 1000.0f;
  }
  marked_.fill(false);
  if (ok) times_[kind].push_back(t);
}

}  // namespace corvid::cuda
