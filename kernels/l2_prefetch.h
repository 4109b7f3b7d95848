// Launch API of the L2 prefetch of weights. At small batch a decode step alternates
// bandwidth-bound GEMMs with latency-bound kernels (norms, RoPE, attention) during which the
// memory system idles; a prefetch issued as such a kernel starts brings the first bytes of the
// next GEMM's weights into L2, so that GEMM finds them there. A hint only: results never change.
#ifndef CORVID_KERNELS_L2_PREFETCH_H_
#define CORVID_KERNELS_L2_PREFETCH_H_

#include <cstdint>

#include "kernels/kernel_api.h"

namespace corvid::kernels {

// True where the prefetch does anything (compute capability 9.0+: bulk L2 prefetch).
bool L2PrefetchSupported();

// Prefetches [ptr, ptr + bytes) into L2 (nothing unless ptr is 16-byte aligned; bytes rounded
// down to 16). A dependent launch (see pdl.cuh) that reads nothing: it starts at the tail of
// the kernel before it and completes only after that kernel does, so the kernels after it keep
// their order.
KernelError LaunchL2Prefetch(const void* ptr, int64_t bytes, StreamHandle stream);

}  // namespace corvid::kernels

#endif  // CORVID_KERNELS_L2_PREFETCH_H_
