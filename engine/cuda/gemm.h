// Picks and runs the GEMM y = x * w^T of every projection (internal to the CUDA backend).
//
// Batch-invariant mode (the default): per projection, one family of kernels whose members all
// compute bit-identical rows, so the timing decides speed only, never results. The family is
// cuBLASLt algorithms that reproduce a reference algorithm's rows bit for bit (checked at
// start-up, see lt_gemm.h), or, when no such set covers every batch size, corvid's tiled
// tensor-core kernel in several tile configurations (invariant by construction,
// kernels/tiled_gemm.h). corvid's bulk-copy decode kernel (kernels/bulk_gemm.h; it accumulates
// as the tiled kernel) competes in both families (CORVID_BULK_GEMM=0: not offered). Otherwise
// cuBLAS's own choice and the weight-streaming skinny kernel join the candidates. The choice per (shape, batch rows) is made by timing the candidates at
// start-up (Autotune); between tuned row counts the next larger one's choice is used.
// CORVID_GEMM_LOG=1 prints every candidate's time and whether the tiled kernel reproduces the
// cuBLASLt reference (stderr).
#ifndef CORVID_ENGINE_CUDA_GEMM_H_
#define CORVID_ENGINE_CUDA_GEMM_H_

#include <cuda_runtime.h>

#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/device_memory.h"
#include "engine/cuda/lt_gemm.h"
#include "engine/tensor.h"

namespace corvid::cuda {

struct GemmOptions {
  bool batch_invariant = true;
};

// One projection to tune: its shape and the weights of a few layers (rotated while timing so
// that the weights do not sit in L2 as they never would in a real step).
struct GemmProblem {
  std::string name;
  int n = 0, k = 0, ldw = 0;
  bool y_f32 = false;
  std::vector<const void*> weights;
};

class GemmDispatcher {
 public:
  static absl::StatusOr<std::unique_ptr<GemmDispatcher>> Create(DType dtype, cudaStream_t stream,
                                                                const GemmOptions& options);
  ~GemmDispatcher();

  // y[m, n] = x[m, k] * w[n, k]^T; lda / ldw are row strides in elements; y has stride n.
  absl::Status Run(const void* x, int lda, const void* w, int ldw, void* y, bool y_f32, int m,
                   int n, int k);

  // Times the candidates for every problem at every row count in `ms` (sorted ascending).
  absl::Status Autotune(const std::vector<GemmProblem>& problems, const std::vector<int>& ms);

  // The tuned table, one line per (problem, m).
  std::string Describe() const;

 private:
  enum class Impl { kTiled, kCublas, kSkinny, kLt, kBulk };
  struct Choice {
    Impl impl = Impl::kTiled;
    int config = 0;
    float micros = 0.0f;
    cublasLtMatmulAlgo_t algo{};
  };
  // Under CORVID_BULK_GEMM=force, only the bulk candidates where there are any.
  static void KeepOnlyBulk(std::vector<Choice>* cands);
  using ShapeKey = std::tuple<int, int, bool>;  // n, k, y_f32

  GemmDispatcher(DType dtype, cudaStream_t stream, const GemmOptions& options)
      : dtype_(dtype), stream_(stream), options_(options) {}
  Choice Choose(int m, int n, int k, bool y_f32) const;
  absl::Status RunChoice(const Choice& c, const void* x, int lda, const void* w, int ldw, void* y,
                         bool y_f32, int m, int n, int k);
  std::vector<Choice> Candidates(int m, int k) const;
  // The fastest of `cands` at m rows (micros < 0 when none runs); logs every time when
  // CORVID_GEMM_LOG is set.
  Choice Fastest(std::vector<Choice> cands, const GemmProblem& p, const void* x, void* y, int m);
  // Times `c` at m rows (rotating the problem's weights); negative when it fails.
  float TimeChoice(const Choice& c, const GemmProblem& p, const void* x, void* y, int m);
  // The cuBLASLt family for `p` (see above); empty when no consistent set covers `ms`.
  absl::StatusOr<std::map<int, Choice>> TuneLtFamily(const GemmProblem& p,
                                                     const std::vector<int>& ms, const void* x);
  std::string ChoiceName(const Choice& c) const;

  DType dtype_;
  cudaStream_t stream_;
  GemmOptions options_;
  cublasHandle_t cublas_ = nullptr;
  DeviceBuffer workspace_;
  std::unique_ptr<LtGemm> lt_;
  std::map<ShapeKey, std::map<int, Choice>> table_;
  std::map<ShapeKey, std::string> names_;
};

}  // namespace corvid::cuda

#endif  // CORVID_ENGINE_CUDA_GEMM_H_
