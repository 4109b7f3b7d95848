// Launch API of the weight-streaming tensor-core GEMM for decode batches (1..128 rows):
// y[i, j] = sum_k x[i, k] * w[j, k] (w is [n, k], the Hugging Face layout), 16-bit inputs, fp32
// accumulation, output 16-bit or fp32 (logits).
//
// At decode sizes a projection is a pass over its weights, so each warp owns 16 weight rows
// and streams them, whole k, through a shared-memory ring fed by cp.async; the few activation
// rows ride along in the same ring. The weights of the first stages are requested before the
// kernel waits for the one before it (programmatic dependent launch, pdl.cuh), since only x
// depends on it.
//
// Numerics: every output element is accumulated in one fp32 register, 16 values of k at a
// time (mma.sync m16n8k16, weights as the A operand), in increasing k from 0, exactly as the
// tiled kernel (tiled_gemm.h). So every configuration here, and every tiled configuration,
// gives the same bits for a row whatever the batch: they form one batch-invariant family.
// On the H100 this is also exactly how cuBLASLt's split-K-free kernels accumulate (checked at
// start-up by the GEMM dispatcher, engine/cuda/gemm.h), so these kernels may serve the
// batch sizes where they are fastest inside the cuBLASLt family. Measured there (docs/perf.md,
// session 3) they tie cuBLAS at m = 1 on qkv and lose elsewhere: with few 16-row tiles per SM
// each warp's chain of k / 16 dependent mma.sync steps sets the pace.
#ifndef CORVID_KERNELS_STREAM_GEMM_H_
#define CORVID_KERNELS_STREAM_GEMM_H_

#include "kernels/kernel_api.h"

namespace corvid::kernels {

constexpr int kStreamGemmMaxRows = 128;

int NumStreamGemmConfigs();
// "stream:W<warps>/K<k per stage>/S<stages>", for logs.
const char* StreamGemmConfigName(int config);

// True when `config` runs m rows of inner size k with these strides on the current device:
// 1 <= m <= kStreamGemmMaxRows, k % 16 == 0, lda and ldw multiples of 8 (x and w must be
// 16-byte aligned), and the ring fits the device's shared memory per block.
bool StreamGemmSupports(int config, int m, int k, int lda, int ldw);

// y has row stride n.
KernelError LaunchStreamGemm(int config, DataType dtype, const void* x, int lda, const void* w,
                             int ldw, void* y, bool y_is_f32, int m, int n, int k,
                             StreamHandle stream);

}  // namespace corvid::kernels

#endif  // CORVID_KERNELS_STREAM_GEMM_H_
