// CUDA graphs of decode steps, one per key (padded batch size, split count): the first step
// with a key runs eagerly and is then captured; later steps replay the graph (one launch
// instead of hundreds). Internal to the CUDA backend.
#ifndef CORVID_ENGINE_CUDA_GRAPH_CACHE_H_
#define CORVID_ENGINE_CUDA_GRAPH_CACHE_H_

#include <cuda_runtime.h>

#include <cstdint>
#include <functional>
#include <map>

#include "absl/status/status.h"

namespace corvid::cuda {

class GraphCache {
 public:
  GraphCache() = default;
  ~GraphCache();
  GraphCache(const GraphCache&) = delete;
  GraphCache& operator=(const GraphCache&) = delete;

  // Replays the graph of `key`, or runs `launch` on `stream` and captures it for next time.
  // `launch` must enqueue the same work every time it is called for a key. A key whose
  // capture fails runs eagerly from then on.
  absl::Status Run(int64_t key, cudaStream_t stream, const std::function<absl::Status()>& launch);

  int size() const { return static_cast<int>(execs_.size()); }

 private:
  std::map<int64_t, cudaGraphExec_t> execs_;  // nullptr = capture failed, run eagerly
};

}  // namespace corvid::cuda

#endif  // CORVID_ENGINE_CUDA_GRAPH_CACHE_H_
