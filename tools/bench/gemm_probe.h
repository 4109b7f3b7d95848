// Times every weight-streaming GEMM configuration (kernels/stream_gemm.h) and cuBLAS's own
// choice on given shapes, each launch alone, so a profiler can attribute one kernel per launch.
#ifndef CORVID_TOOLS_BENCH_GEMM_PROBE_H_
#define CORVID_TOOLS_BENCH_GEMM_PROBE_H_

#include <string>

#include "absl/status/status.h"

namespace corvid::bench {

// `shapes`: "n,k,m;n,k,m..." (bf16, y = x * w^T with w [n, k] and x [m, k]).
absl::Status RunGemmProbe(const std::string& shapes);

}  // namespace corvid::bench

#endif  // CORVID_TOOLS_BENCH_GEMM_PROBE_H_
