// Launch API of corvid's tensor-core GEMM: c[i, j] = sum_k a[i, k] * b[j, k] (b is [n, k], the
// Hugging Face weight layout), 16-bit inputs, fp32 accumulation, output 16-bit or fp32.
//
// Batch invariance: whatever the tile configuration, every output element is accumulated in
// one fp32 register, 16 values of k at a time (mma.sync m16n8k16), in increasing k from 0.
// So a row's result does not depend on how many other rows are in the batch or which
// configuration runs: the engine's "greedy output does not depend on batching" rests on this.
// Configurations differ only in tile shapes and pipeline depth and are picked by timing.
#ifndef CORVID_KERNELS_TILED_GEMM_H_
#define CORVID_KERNELS_TILED_GEMM_H_

#include "kernels/kernel_api.h"

namespace corvid::kernels {

int NumTiledGemmConfigs();
// "BMxBNxBK/warps/stages", for logs.
const char* TiledGemmConfigName(int config);
// Rows of A (M) one tile of `config` covers.
int TiledGemmTileRows(int config);

// k, lda and ldb must be multiples of 8 and a, b 16-byte aligned (reads stop at k; the
// caller zero-pads rows whose logical length is not a multiple of 8). c has row stride n.
KernelError LaunchTiledGemm(int config, DataType dtype, const void* a, int lda, const void* b,
                            int ldb, void* c, bool c_is_f32, int m, int n, int k,
                            StreamHandle stream);

}  // namespace corvid::kernels

#endif  // CORVID_KERNELS_TILED_GEMM_H_
