#include "tools/bench/gemm_probe.h"

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdio>
#include <functional>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "kernels/elementwise.h"
#include "kernels/stream_gemm.h"

namespace corvid::bench {
namespace {

constexpr int kLaunches = 5;  // the first warms up; the others are timed

// Mean microseconds of launches 2..kLaunches of `launch` (negative when a launch fails).
float TimeLaunches(const std::function<bool()>& launch) {
  cudaEvent_t start, stop;
  cudaEventCreate(&start);
  cudaEventCreate(&stop);
  float total = 0.0f;
  bool ok = true;
  for (int i = 0; i < kLaunches && ok; ++i) {
    cudaEventRecord(start);
    ok = launch();
    cudaEventRecord(stop);
    float ms = 0.0f;
    ok = ok && cudaEventSynchronize(stop) == cudaSuccess &&
         cudaEventElapsedTime(&ms, start, stop) == cudaSuccess;
    if (i > 0) total += ms;
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  cudaGetLastError();
  return ok ? total * 1000.0f / (kLaunches - 1) : -1.0f;
}

absl::Status ProbeShape(cublasHandle_t cublas, int n, int k, int m) {
  void *w = nullptr, *x = nullptr, *y = nullptr;
  if (cudaMalloc(&w, size_t{2} * n * k) != cudaSuccess ||
      cudaMalloc(&x, size_t{2} * m * k) != cudaSuccess ||
      cudaMalloc(&y, size_t{4} * m * n) != cudaSuccess) {
    return absl::ResourceExhaustedError("gemm probe: cudaMalloc");
  }
  const auto bf16 = kernels::DataType::kBF16;
  kernels::LaunchRandomFill(bf16, w, int64_t{n} * k, 11, 0.05f, 0.0f, nullptr);
  kernels::LaunchRandomFill(bf16, x, int64_t{m} * k, 12, 1.0f, 0.0f, nullptr);
  const double gb = 2.0 * n * k / 1e9;
  auto report = [&](const char* name, float us) {
    std::printf("  gemm probe n=%-6d k=%-6d m=%-4d %-22s %8.1f us %7.0f GB/s\n", n, k, m, name, us,
                us > 0 ? gb / (us * 1e-6) : 0.0);
  };
  for (int c = 0; c < kernels::NumStreamGemmConfigs(); ++c) {
    if (!kernels::StreamGemmSupports(c, m, k, k, k)) continue;
    report(kernels::StreamGemmConfigName(c), TimeLaunches([&] {
             return kernels::LaunchStreamGemm(c, bf16, x, k, w, k, y, false, m, n, k, nullptr) ==
                    kernels::kKernelOk;
           }));
  }
  const float alpha = 1.0f, beta = 0.0f;
  report("cublas", TimeLaunches([&] {
           return cublasGemmEx(cublas, CUBLAS_OP_T, CUBLAS_OP_N, n, m, k, &alpha, w, CUDA_R_16BF,
                               k, x, CUDA_R_16BF, k, &beta, y, CUDA_R_16BF, n, CUBLAS_COMPUTE_32F,
                               CUBLAS_GEMM_DEFAULT) == CUBLAS_STATUS_SUCCESS;
         }));
  cudaFree(w);
  cudaFree(x);
  cudaFree(y);
  return absl::OkStatus();
}

}  // namespace

absl::Status RunGemmProbe(const std::string& shapes) {
  cublasHandle_t cublas;
  if (cublasCreate(&cublas) != CUBLAS_STATUS_SUCCESS) return absl::InternalError("cublasCreate");
  absl::Status status;
  for (absl::string_view shape : absl::StrSplit(shapes, ';', absl::SkipEmpty())) {
    std::vector<std::string> parts = absl::StrSplit(shape, ',');
    int n = 0, k = 0, m = 0;
    if (parts.size() != 3 || !absl::SimpleAtoi(parts[0], &n) || !absl::SimpleAtoi(parts[1], &k) ||
        !absl::SimpleAtoi(parts[2], &m) || n < 1 || k < 1 || m < 1) {
      status = absl::InvalidArgumentError(absl::StrCat("gemm probe: bad shape '", shape, "'"));
      break;
    }
    status = ProbeShape(cublas, n, k, m);
    if (!status.ok()) break;
  }
  cublasDestroy(cublas);
  return status;
}

}  // namespace corvid::bench
