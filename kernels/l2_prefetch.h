// Warming the L2 cache with bytes a later kernel will read (e.g. the next projection's weights
// while a latency-bound kernel leaves DRAM idle). A hint only: the launch returns once the
// requests are issued, nothing waits for the data, and nothing is written.
#ifndef CORVID_KERNELS_L2_PREFETCH_H_
#define CORVID_KERNELS_L2_PREFETCH_H_

#include <cstddef>

#include "kernels/kernel_api.h"

namespace corvid::kernels {

// Requests [data, data + bytes) into L2 from `blocks` thread blocks (a few are enough: each
// request covers a large span on sm_90, one 128-byte line elsewhere).
KernelError LaunchL2Prefetch(const void* data, size_t bytes, int blocks, StreamHandle stream);

}  // namespace corvid::kernels

#endif  // CORVID_KERNELS_L2_PREFETCH_H_
