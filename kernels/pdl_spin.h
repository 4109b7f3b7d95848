// A stand-in for the short kernel before each projection in a decode step (RMSNorm, SiluMul,
// attention), for timing GEMMs as they run there: launched with programmatic dependent launch,
// it waits for the kernel before it, lets the next kernel start, then keeps one thread busy for
// about `nanoseconds`. A GEMM that starts streaming its weights before its own wait (the bulk
// kernel, bulk_gemm.h) shows that head start only when timed behind such a kernel.
#ifndef CORVID_KERNELS_PDL_SPIN_H_
#define CORVID_KERNELS_PDL_SPIN_H_

#include "kernels/kernel_api.h"

namespace corvid::kernels {

KernelError LaunchPdlSpin(int nanoseconds, StreamHandle stream);

}  // namespace corvid::kernels

#endif  // CORVID_KERNELS_PDL_SPIN_H_
