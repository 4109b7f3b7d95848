// The two ceilings of the machine the benchmark runs on, measured in the same run: device
// memory bandwidth (a large device-to-device copy, bytes read + written) and the bf16 matrix
// rate (cuBLAS, 8192^3, random data).
#ifndef CORVID_TOOLS_BENCH_ROOFLINE_H_
#define CORVID_TOOLS_BENCH_ROOFLINE_H_

#include "absl/status/statusor.h"

namespace corvid::bench {

struct Roofline {
  double copy_gbps = 0.0;     // GB/s, 1e9 bytes
  double gemm_tflops = 0.0;   // bf16 in, fp32 accumulate
};

absl::StatusOr<Roofline> MeasureRoofline();

}  // namespace corvid::bench

#endif  // CORVID_TOOLS_BENCH_ROOFLINE_H_
