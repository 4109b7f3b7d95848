// The Hopper (sm_90) members of the weight-streaming GEMM family (internal to kernels/; the
// public API is stream_gemm.h). Same contract and numerics: every output element accumulated
// in one fp32 register, 16 values of k at a time, in increasing k from 0.
#ifndef CORVID_KERNELS_STREAM_GEMM_WGMMA_H_
#define CORVID_KERNELS_STREAM_GEMM_WGMMA_H_

#include "kernels/kernel_api.h"

namespace corvid::kernels::stream_wgmma {

constexpr int kMaxRows = 32;

int NumConfigs();
const char* ConfigName(int config);
// False on devices before sm_90 and where the ring does not fit.
bool Supports(int config, int m, int k, int lda, int ldw);
KernelError Launch(int config, DataType dtype, const void* x, int lda, const void* w, int ldw,
                   void* y, bool y_is_f32, int m, int n, int k, StreamHandle stream);

}  // namespace corvid::kernels::stream_wgmma

#endif  // CORVID_KERNELS_STREAM_GEMM_WGMMA_H_
