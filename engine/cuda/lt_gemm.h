// cuBLASLt GEMMs y = x * w^T with an explicitly chosen algorithm (internal to the CUDA
// backend), and the check that makes them usable in batch-invariant mode: a set of algorithms
// is accepted only when every one of them reproduces, bit for bit, the rows a reference
// algorithm computes at the largest batch, at both ends of the row range it will serve.
#ifndef CORVID_ENGINE_CUDA_LT_GEMM_H_
#define CORVID_ENGINE_CUDA_LT_GEMM_H_

#include <cublasLt.h>
#include <cuda_runtime.h>

#include <vector>

#include "absl/status/statusor.h"
#include "engine/tensor.h"

namespace corvid::cuda {

// The descriptors of one problem shape (m rows of x).
class LtProblem {
 public:
  LtProblem(DType dtype, bool y_f32, int m, int n, int k, int lda, int ldw);
  ~LtProblem();
  LtProblem(const LtProblem&) = delete;
  LtProblem& operator=(const LtProblem&) = delete;
  const absl::Status& status() const { return status_; }

  cublasLtMatmulDesc_t op = nullptr;
  cublasLtMatrixLayout_t w = nullptr, x = nullptr, y = nullptr;

 private:
  absl::Status status_;
};

class LtGemm {
 public:
  static absl::StatusOr<LtGemm*> Create(void* workspace, size_t workspace_bytes);
  ~LtGemm();

  absl::Status Run(const cublasLtMatmulAlgo_t& algo, DType dtype, const void* x, int lda,
                   const void* w, int ldw, void* y, bool y_f32, int m, int n, int k,
                   cudaStream_t stream);
  // Up to `max` algorithms cuBLASLt proposes for the shape, best first.
  std::vector<cublasLtMatmulAlgo_t> Heuristics(DType dtype, bool y_f32, int m, int n, int k,
                                               int lda, int ldw, int max);
  bool Supports(const cublasLtMatmulAlgo_t& algo, DType dtype, bool y_f32, int m, int n, int k,
                int lda, int ldw);

 private:
  LtGemm() = default;
  cublasLtHandle_t handle_ = nullptr;
  void* workspace_ = nullptr;
  size_t workspace_bytes_ = 0;
};

}  // namespace corvid::cuda

#endif  // CORVID_ENGINE_CUDA_LT_GEMM_H_
