#include "engine/cuda/lt_gemm.h"

#include "engine/cuda/cuda_check.h"

namespace corvid::cuda {
namespace {

cudaDataType_t HalfType(DType t) { return t == DType::kF16 ? CUDA_R_16F : CUDA_R_16BF; }

}  // namespace

// Column-major view, as for cublasGemmEx: y^T [n, m] = w^T(stored k x n) * x^T [k, m].
LtProblem::LtProblem(DType dtype, bool y_f32, int m, int n, int k, int lda, int ldw) {
  auto check = [this](cublasStatus_t s, const char* what) {
    if (status_.ok()) status_ = CublasStatus(s, what);
  };
  check(cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32F, CUDA_R_32F), "matmul desc");
  if (!status_.ok()) return;
  const cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
  check(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta)), "transa");
  check(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb)), "transb");
  check(cublasLtMatrixLayoutCreate(&w, HalfType(dtype), k, n, ldw), "w layout");
  check(cublasLtMatrixLayoutCreate(&x, HalfType(dtype), k, m, lda), "x layout");
  check(cublasLtMatrixLayoutCreate(&y, y_f32 ? CUDA_R_32F : HalfType(dtype), n, m, n), "y layout");
}

LtProblem::~LtProblem() {
  if (y) cublasLtMatrixLayoutDestroy(y);
  if (x) cublasLtMatrixLayoutDestroy(x);
  if (w) cublasLtMatrixLayoutDestroy(w);
  if (op) cublasLtMatmulDescDestroy(op);
}

absl::StatusOr<LtGemm*> LtGemm::Create(void* workspace, size_t workspace_bytes) {
  LtGemm* g = new LtGemm();
  g->workspace_ = workspace;
  g->workspace_bytes_ = workspace_bytes;
  const absl::Status st = CublasStatus(cublasLtCreate(&g->handle_), "cublasLtCreate");
  if (!st.ok()) {
    delete g;
    return st;
  }
  return g;
}

LtGemm::~LtGemm() {
  if (handle_) cublasLtDestroy(handle_);
}

absl::Status LtGemm::Run(const cublasLtMatmulAlgo_t& algo, DType dtype, const void* x, int lda,
                         const void* w, int ldw, void* y, bool y_f32, int m, int n, int k,
                         cudaStream_t stream) {
  LtProblem p(dtype, y_f32, m, n, k, lda, ldw);
  RETURN_IF_ERROR(p.status());
  const float alpha = 1.0f, beta = 0.0f;
  CUBLAS_RETURN_IF_ERROR(cublasLtMatmul(handle_, p.op, &alpha, w, p.w, x, p.x, &beta, y, p.y, y,
                                        p.y, &algo, workspace_, workspace_bytes_, stream));
  return absl::OkStatus();
}

std::vector<cublasLtMatmulAlgo_t> LtGemm::Heuristics(DType dtype, bool y_f32, int m, int n,
                                                     int k, int lda, int ldw, int max) {
  std::vector<cublasLtMatmulAlgo_t> out;
  LtProblem p(dtype, y_f32, m, n, k, lda, ldw);
  if (!p.status().ok()) return out;
  cublasLtMatmulPreference_t pref = nullptr;
  if (cublasLtMatmulPreferenceCreate(&pref) != CUBLAS_STATUS_SUCCESS) return out;
  const uint64_t ws = workspace_bytes_;
  cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws,
                                       sizeof(ws));
  std::vector<cublasLtMatmulHeuristicResult_t> results(max);
  int returned = 0;
  if (cublasLtMatmulAlgoGetHeuristic(handle_, p.op, p.w, p.x, p.y, p.y, pref, max,
                                     results.data(), &returned) == CUBLAS_STATUS_SUCCESS) {
    for (int i = 0; i < returned; ++i) {
      if (results[i].state == CUBLAS_STATUS_SUCCESS) out.push_back(results[i].algo);
    }
  }
  cublasLtMatmulPreferenceDestroy(pref);
  return out;
}

bool LtGemm::Supports(const cublasLtMatmulAlgo_t& algo, DType dtype, bool y_f32, int m, int n,
                      int k, int lda, int ldw) {
  LtProblem p(dtype, y_f32, m, n, k, lda, ldw);
  if (!p.status().ok()) return false;
  cublasLtMatmulHeuristicResult_t result;
  if (cublasLtMatmulAlgoCheck(handle_, p.op, p.w, p.x, p.y, p.y, &algo, &result) !=
      CUBLAS_STATUS_SUCCESS) {
    return false;
  }
  return result.workspaceSize <= workspace_bytes_;
}

}  // namespace corvid::cuda
