// Warming the L2 cache with bytes a later kernel will read (e.g. a projection's weights while a
// latency-bound kernel leaves DRAM idle). A hint only: the launch returns once the requests are
// issued, nothing waits for the data, and nothing is written.
#ifndef CORVID_KERNELS_L2_PREFETCH_H_
#define CORVID_KERNELS_L2_PREFETCH_H_

#include <cstdint>

#include "kernels/kernel_api.h"

namespace corvid::kernels {

// Requests the first `bytes_per_row` bytes of `rows` rows that start `row_stride` bytes apart
// at `data` into L2, from `blocks` one-warp thread blocks: spread them over every SM (an SM's
// requests queue behind one another). Spans of 4 KB or more go as 32 KB bulk requests (sm_90),
// shorter ones as 128-byte lines.
KernelError LaunchL2Prefetch(const void* data, int rows, int64_t row_stride, int64_t bytes_per_row,
                             int blocks, StreamHandle stream);

}  // namespace corvid::kernels

#endif  // CORVID_KERNELS_L2_PREFETCH_H_
