#include "engine/cuda/gemm.h"

#include <algorithm>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "kernels/elementwise.h"
#include "kernels/skinny_gemm.h"
#include "kernels/tiled_gemm.h"

namespace corvid::cuda {
namespace {

constexpr size_t kCublasWorkspaceBytes = size_t{32} << 20;

kernels::DataType KernelType(DType t) {
  return t == DType::kF16 ? kernels::DataType::kF16 : kernels::DataType::kBF16;
}

// Default tile configuration by row count when nothing was tuned.
int DefaultConfig(int m) {
  if (m <= 16) return 1;
  if (m <= 32) return 3;
  if (m <= 64) return 4;
  return 6;
}

}  // namespace

absl::StatusOr<std::unique_ptr<GemmDispatcher>> GemmDispatcher::Create(
    DType dtype, cudaStream_t stream, const GemmOptions& options) {
  std::unique_ptr<GemmDispatcher> g(new GemmDispatcher(dtype, stream, options));
  CUBLAS_RETURN_IF_ERROR(cublasCreate(&g->cublas_));
  CUBLAS_RETURN_IF_ERROR(cublasSetStream(g->cublas_, stream));
  // A fixed workspace keeps cuBLAS from allocating inside CUDA-graph capture.
  ASSIGN_OR_RETURN(g->workspace_, DeviceBuffer::Allocate(kCublasWorkspaceBytes));
  CUBLAS_RETURN_IF_ERROR(
      cublasSetWorkspace(g->cublas_, g->workspace_.data(), g->workspace_.size()));
  return g;
}

GemmDispatcher::~GemmDispatcher() {
  if (cublas_ != nullptr) cublasDestroy(cublas_);
}

GemmDispatcher::Choice GemmDispatcher::Choose(int m, int n, int k, bool y_f32) const {
  auto it = table_.find(ShapeKey{n, k, y_f32});
  if (it != table_.end() && !it->second.empty()) {
    auto row = it->second.lower_bound(m);
    if (row == it->second.end()) row = std::prev(it->second.end());
    return row->second;
  }
  return Choice{Impl::kTiled, DefaultConfig(m), 0.0f};
}

absl::Status GemmDispatcher::RunChoice(const Choice& c, const void* x, int lda, const void* w,
                                       int ldw, void* y, bool y_f32, int m, int n, int k) {
  switch (c.impl) {
    case Impl::kTiled:
      KERNEL_RETURN_IF_ERROR(kernels::LaunchTiledGemm(c.config, KernelType(dtype_), x, lda, w,
                                                      ldw, y, y_f32, m, n, k, stream_));
      return absl::OkStatus();
    case Impl::kSkinny:
      if (lda != k || ldw != k) break;
      KERNEL_RETURN_IF_ERROR(
          kernels::LaunchSkinnyGemm(KernelType(dtype_), x, w, y, y_f32, m, n, k, stream_));
      return absl::OkStatus();
    case Impl::kCublas: {
      const cudaDataType_t in = dtype_ == DType::kF16 ? CUDA_R_16F : CUDA_R_16BF;
      const float alpha = 1.0f, beta = 0.0f;
      // Column-major view: y^T [n, m] = w [n, k] (stored as k x n, transposed) * x^T [k, m].
      CUBLAS_RETURN_IF_ERROR(cublasGemmEx(cublas_, CUBLAS_OP_T, CUBLAS_OP_N, n, m, k, &alpha, w,
                                          in, ldw, x, in, lda, &beta, y,
                                          y_f32 ? CUDA_R_32F : in, n, CUBLAS_COMPUTE_32F,
                                          CUBLAS_GEMM_DEFAULT));
      return absl::OkStatus();
    }
  }
  return absl::InvalidArgumentError("skinny GEMM needs contiguous rows");
}

absl::Status GemmDispatcher::Run(const void* x, int lda, const void* w, int ldw, void* y,
                                 bool y_f32, int m, int n, int k) {
  if (m == 0) return absl::OkStatus();
  return RunChoice(Choose(m, n, k, y_f32), x, lda, w, ldw, y, y_f32, m, n, k);
}

std::vector<GemmDispatcher::Choice> GemmDispatcher::Candidates(int m, int k) const {
  std::vector<Choice> out;
  for (int c = 0; c < kernels::NumTiledGemmConfigs(); ++c) {
    // Tiles far taller than the batch only waste work.
    if (kernels::TiledGemmTileRows(c) > std::max(16, 2 * m)) continue;
    out.push_back(Choice{Impl::kTiled, c, 0.0f});
  }
  if (!options_.batch_invariant) {
    out.push_back(Choice{Impl::kCublas, 0, 0.0f});
    if (kernels::SkinnyGemmSupports(m, k)) out.push_back(Choice{Impl::kSkinny, 0, 0.0f});
  }
  return out;
}

absl::Status GemmDispatcher::Autotune(const std::vector<GemmProblem>& problems,
                                      const std::vector<int>& ms) {
  if (problems.empty() || ms.empty()) return absl::OkStatus();
  int max_k = 0, max_n = 0;
  for (const GemmProblem& p : problems) {
    max_k = std::max(max_k, p.k);
    max_n = std::max(max_n, p.n);
  }
  const int max_m = ms.back();
  ASSIGN_OR_RETURN(DeviceBuffer x, DeviceBuffer::Allocate(size_t{2} * max_m * max_k));
  ASSIGN_OR_RETURN(DeviceBuffer y, DeviceBuffer::Allocate(size_t{4} * max_m * max_n));
  KERNEL_RETURN_IF_ERROR(kernels::LaunchRandomFill(KernelType(dtype_), x.data(),
                                                   int64_t{max_m} * max_k, 7, 1.0f, 0.0f,
                                                   stream_));
  cudaEvent_t start, stop;
  CUDA_RETURN_IF_ERROR(cudaEventCreate(&start));
  CUDA_RETURN_IF_ERROR(cudaEventCreate(&stop));
  absl::Status status;
  for (const GemmProblem& p : problems) {
    const ShapeKey key{p.n, p.k, p.y_f32};
    names_[key] = p.name;
    for (int m : ms) {
      const int reps = m <= 256 ? 6 : 2;
      Choice best;
      best.micros = -1.0f;
      for (Choice c : Candidates(m, p.k)) {
        // Warm-up (and a support check: a failing candidate is skipped).
        if (!RunChoice(c, x.data(), p.k, p.weights[0], p.ldw, y.data(), p.y_f32, m, p.n, p.k)
                 .ok()) {
          cudaGetLastError();
          continue;
        }
        cudaEventRecord(start, stream_);
        for (int r = 0; r < reps; ++r) {
          status = RunChoice(c, x.data(), p.k, p.weights[r % p.weights.size()], p.ldw, y.data(),
                             p.y_f32, m, p.n, p.k);
          if (!status.ok()) break;
        }
        cudaEventRecord(stop, stream_);
        CUDA_RETURN_IF_ERROR(cudaEventSynchronize(stop));
        if (!status.ok()) continue;
        float ms_total = 0.0f;
        CUDA_RETURN_IF_ERROR(cudaEventElapsedTime(&ms_total, start, stop));
        c.micros = ms_total * 1000.0f / reps;
        if (best.micros < 0.0f || c.micros < best.micros) best = c;
      }
      if (best.micros >= 0.0f) table_[key][m] = best;
    }
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return absl::OkStatus();
}

std::string GemmDispatcher::Describe() const {
  std::string out;
  for (const auto& [key, rows] : table_) {
    const auto& [n, k, f32] = key;
    auto name = names_.find(key);
    for (const auto& [m, c] : rows) {
      const char* impl = c.impl == Impl::kTiled    ? kernels::TiledGemmConfigName(c.config)
                         : c.impl == Impl::kCublas ? "cublas"
                                                   : "skinny";
      const double bytes = 2.0 * n * k;
      absl::StrAppendFormat(&out, "  %-8s n=%-6d k=%-6d m=%-5d %-18s %8.1f us  %6.0f GB/s  %6.1f TFLOP/s\n",
                            name == names_.end() ? "" : name->second.c_str(), n, k, m, impl,
                            c.micros, bytes / (c.micros * 1e3), 2.0 * m * n * k / (c.micros * 1e6));
    }
  }
  return out;
}

}  // namespace corvid::cuda
