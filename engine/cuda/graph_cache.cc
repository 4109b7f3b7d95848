#include "engine/cuda/graph_cache.h"

#include <cstdio>

#include "engine/cuda/cuda_check.h"

namespace corvid::cuda {

GraphCache::~GraphCache() {
  for (auto& [key, exec] : execs_) {
    if (exec != nullptr) cudaGraphExecDestroy(exec);
  }
}

absl::Status GraphCache::Run(int64_t key, cudaStream_t stream,
                             const std::function<absl::Status()>& launch) {
  auto it = execs_.find(key);
  if (it != execs_.end()) {
    if (it->second == nullptr) return launch();
    CUDA_RETURN_IF_ERROR(cudaGraphLaunch(it->second, stream));
    return absl::OkStatus();
  }
  // Eager first: loads modules and sets kernel attributes outside the capture, and computes
  // this step's result.
  RETURN_IF_ERROR(launch());
  CUDA_RETURN_IF_ERROR(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
  const absl::Status captured = launch();
  cudaGraph_t graph = nullptr;
  const cudaError_t end = cudaStreamEndCapture(stream, &graph);
  cudaGraphExec_t exec = nullptr;
  if (captured.ok() && end == cudaSuccess && graph != nullptr) {
    if (cudaGraphInstantiate(&exec, graph, 0) != cudaSuccess) exec = nullptr;
  }
  if (graph != nullptr) cudaGraphDestroy(graph);
  if (exec == nullptr) {
    cudaGetLastError();  // a failed capture leaves an error behind; the step itself succeeded
    std::fprintf(stderr, "corvid: CUDA graph capture failed for key %lld (%s); running eagerly\n",
                 static_cast<long long>(key),
                 captured.ok() ? cudaGetErrorString(end) : captured.ToString().c_str());
  }
  execs_[key] = exec;
  return absl::OkStatus();
}

}  // namespace corvid::cuda
