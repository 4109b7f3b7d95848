// Launch API of the bulk-copy decode GEMM (sm_90): y[i, j] = sum_k x[i, k] * w[j, k] (w is
// [n, k], the Hugging Face layout), 16-bit inputs, fp32 accumulation, output 16-bit or fp32,
// for decode batches of up to kBulkGemmMaxRows rows.
//
// At decode sizes a projection is one pass over its weights. A block owns R weight rows; one
// thread streams them, k-stage by k-stage, into a shared-memory ring with 2-D tensor copies
// (cp.async.bulk.tensor, one per 64-column tile of a stage; completion counted by an mbarrier),
// so the copies take almost no issue slots; R/16 consumer warps each multiply 16 of those rows
// against the activation rows. The weights of the first stages are requested before the kernel
// waits for the one before it (programmatic dependent launch, pdl.cuh): only the activations
// depend on it.
//
// Numerics: every output element is accumulated in one fp32 register, 16 values of k at a time
// (mma.sync m16n8k16 with the activations as the A operand and the weights as B), in increasing
// k from 0: exactly the tiled kernel's chain (tiled_gemm.h), so both give the same bits for a
// row whatever the batch and configuration.
#ifndef CORVID_KERNELS_BULK_GEMM_H_
#define CORVID_KERNELS_BULK_GEMM_H_

#include "kernels/kernel_api.h"

namespace corvid::kernels {

constexpr int kBulkGemmMaxRows = 64;

int NumBulkGemmConfigs();
// "bulk:R<rows per block>/K<k per stage>/<ring budget>", for logs.
const char* BulkGemmConfigName(int config);

// True when `config` runs m rows of inner size k with these strides on the current device:
// compute capability 9.0+ (and the driver's tensor-map encoder), 1 <= m <= kBulkGemmMaxRows,
// k % 16 == 0, lda and ldw multiples of 8 (x and w 16-byte aligned).
bool BulkGemmSupports(int config, int m, int k, int lda, int ldw);

// y has row stride n. Launched with programmatic dependent launch where available.
KernelError LaunchBulkGemm(int config, DataType dtype, const void* x, int lda, const void* w,
                           int ldw, void* y, bool y_is_f32, int m, int n, int k,
                           StreamHandle stream);

}  // namespace corvid::kernels

#endif  // CORVID_KERNELS_BULK_GEMM_H_
