// Ceilings of the machine the benchmark runs on, measured with the same thread count as the
// backend: what a decode step (memory bound) and a prefill (compute bound) could reach at best.
#ifndef CORVID_TOOLS_CPU_BENCH_ROOFLINE_H_
#define CORVID_TOOLS_CPU_BENCH_ROOFLINE_H_

#include <cstdint>

namespace corvid::bench {

// STREAM "copy" (c[i] = a[i]) over two arrays of `bytes` each; counts 2 * bytes per pass as
// STREAM does. Best of `reps` passes, GB/s (1e9 bytes).
double CopyBandwidthGBs(int64_t bytes, int threads, int reps);

// Reads an array of `bytes` (a vectorised sum, as a matmul streams its weights). Best of
// `reps`, GB/s. With `bytes` equal to the model's weights this is the decode roofline.
double ReadBandwidthGBs(int64_t bytes, int threads, int reps);

// Peak fp32 FMA rate from registers (independent accumulator chains), GFLOP/s (2 per FMA).
double FmaPeakGFlops(int threads);

}  // namespace corvid::bench

#endif  // CORVID_TOOLS_CPU_BENCH_ROOFLINE_H_
