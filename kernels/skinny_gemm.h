// Launch API of the small-batch GEMM used for decode at batch sizes where a weight-streaming
// kernel beats cuBLAS: y[i, j] = sum_k x[i, k] * w[j, k] (w is [n, k], Hugging Face layout),
// fp32 accumulation, output in the activation type or fp32 (logits).
#ifndef CORVID_KERNELS_SKINNY_GEMM_H_
#define CORVID_KERNELS_SKINNY_GEMM_H_

#include "kernels/kernel_api.h"

namespace corvid::kernels {

constexpr int kSkinnyGemmMaxRows = 8;

// True when m rows and inner size k are handled (1 <= m <= 8, k % 8 == 0; pointers must be
// 16-byte aligned).
bool SkinnyGemmSupports(int m, int k);

KernelError LaunchSkinnyGemm(DataType dtype, const void* x, const void* w, void* y,
                             bool y_is_f32, int m, int n, int k, StreamHandle stream);

}  // namespace corvid::kernels

#endif  // CORVID_KERNELS_SKINNY_GEMM_H_
