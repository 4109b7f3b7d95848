#include "engine/cuda/l2_warmer.h"

#include <cstdlib>
#include <cstring>

#include "engine/cuda/cuda_check.h"
#include "kernels/l2_prefetch.h"

namespace corvid::cuda {
namespace {

// Enough requests in flight to keep DRAM busy (each is one 64 KB span on sm_90).
constexpr int kPrefetchBlocks = 4;

}  // namespace

absl::StatusOr<std::unique_ptr<L2Warmer>> L2Warmer::Create() {
  std::unique_ptr<L2Warmer> w(new L2Warmer());
  const char* env = std::getenv("CORVID_L2_PREFETCH");
  if (env != nullptr && std::strcmp(env, "0") == 0) return w;
  CUDA_RETURN_IF_ERROR(cudaStreamCreateWithFlags(&w->side_, cudaStreamNonBlocking));
  CUDA_RETURN_IF_ERROR(cudaEventCreateWithFlags(&w->fork_, cudaEventDisableTiming));
  CUDA_RETURN_IF_ERROR(cudaEventCreateWithFlags(&w->join_, cudaEventDisableTiming));
  w->enabled_ = true;
  return w;
}

L2Warmer::~L2Warmer() {
  if (side_ != nullptr) cudaStreamSynchronize(side_);
  if (join_ != nullptr) cudaEventDestroy(join_);
  if (fork_ != nullptr) cudaEventDestroy(fork_);
  if (side_ != nullptr) cudaStreamDestroy(side_);
}

absl::Status L2Warmer::Fork(cudaStream_t main, const void* data, size_t bytes) {
  if (!enabled_) return absl::OkStatus();
  CUDA_RETURN_IF_ERROR(cudaEventRecord(fork_, main));
  CUDA_RETURN_IF_ERROR(cudaStreamWaitEvent(side_, fork_, 0));
  KERNEL_RETURN_IF_ERROR(kernels::LaunchL2Prefetch(data, bytes, kPrefetchBlocks, side_));
  CUDA_RETURN_IF_ERROR(cudaEventRecord(join_, side_));
  forked_ = true;
  return absl::OkStatus();
}

absl::Status L2Warmer::Join(cudaStream_t main) {
  if (!forked_) return absl::OkStatus();
  forked_ = false;
  CUDA_RETURN_IF_ERROR(cudaStreamWaitEvent(main, join_, 0));
  return absl::OkStatus();
}

}  // namespace corvid::cuda
