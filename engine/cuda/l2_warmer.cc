#include "engine/cuda/l2_warmer.h"

#include <algorithm>
#include <cstdlib>

#include "engine/cuda/cuda_check.h"
#include "kernels/l2_prefetch.h"

namespace corvid::cuda {
namespace {

// About what DRAM delivers during one latency-bound kernel (~1 µs at ~3 TB/s).
constexpr int64_t kHeadBytes = int64_t{3} << 20;

// Where it paid on the H100 (same-run A/Bs, docs/perf.md session 4): the whole o weights only
// at batch 1 (-0.09 ms per step; at 8, 32 and 128 attention's own traffic makes it a loss),
// the weight heads at batch 32 and 64 (-0.10 / -0.04 ms; at 8 and 128 a loss of 0.09 / 0.02).
constexpr int kDefaultWholeMaxTokens = 1;
constexpr int kDefaultHeadMinTokens = 16, kDefaultHeadMaxTokens = 64;

int EnvTokens(const char* name, int fallback) {
  const char* env = std::getenv(name);
  return env != nullptr ? std::max(0, std::atoi(env)) : fallback;
}

}  // namespace

absl::StatusOr<std::unique_ptr<L2Warmer>> L2Warmer::Create() {
  std::unique_ptr<L2Warmer> w(new L2Warmer());
  w->whole_max_tokens_ = EnvTokens("CORVID_L2_PREFETCH", kDefaultWholeMaxTokens);
  w->head_min_tokens_ = EnvTokens("CORVID_GEMM_PREFETCH_MIN", kDefaultHeadMinTokens);
  w->head_max_tokens_ = EnvTokens("CORVID_GEMM_PREFETCH", kDefaultHeadMaxTokens);
  if (w->whole_max_tokens_ == 0 && w->head_max_tokens_ < w->head_min_tokens_) return w;
  int device = 0, sms = 0;
  CUDA_RETURN_IF_ERROR(cudaGetDevice(&device));
  CUDA_RETURN_IF_ERROR(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  w->blocks_ = 2 * sms;
  CUDA_RETURN_IF_ERROR(cudaStreamCreateWithFlags(&w->side_, cudaStreamNonBlocking));
  CUDA_RETURN_IF_ERROR(cudaEventCreateWithFlags(&w->fork_, cudaEventDisableTiming));
  CUDA_RETURN_IF_ERROR(cudaEventCreateWithFlags(&w->join_, cudaEventDisableTiming));
  return w;
}

L2Warmer::~L2Warmer() {
  if (side_ != nullptr) cudaStreamSynchronize(side_);
  if (join_ != nullptr) cudaEventDestroy(join_);
  if (fork_ != nullptr) cudaEventDestroy(fork_);
  if (side_ != nullptr) cudaStreamDestroy(side_);
}

absl::Status L2Warmer::ForkWhole(cudaStream_t main, const void* w, size_t bytes) {
  return Fork(main, w, 1, 0, static_cast<int64_t>(bytes));
}

absl::Status L2Warmer::ForkHead(cudaStream_t main, const void* w, int n, int ld) {
  const int64_t row_bytes = int64_t{2} * ld;
  const int64_t head = std::clamp<int64_t>(kHeadBytes / n / 128 * 128, 128, row_bytes);
  return Fork(main, w, n, row_bytes, head);
}

absl::Status L2Warmer::Fork(cudaStream_t main, const void* data, int rows, int64_t stride,
                            int64_t bytes) {
  if (side_ == nullptr) return absl::OkStatus();
  CUDA_RETURN_IF_ERROR(cudaEventRecord(fork_, main));
  CUDA_RETURN_IF_ERROR(cudaStreamWaitEvent(side_, fork_, 0));
  KERNEL_RETURN_IF_ERROR(kernels::LaunchL2Prefetch(data, rows, stride, bytes, blocks_, side_));
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
