// Launch API of the per-token elementwise kernels: embedding gather, residual add fused with
// RMSNorm, SwiGLU, and seeded random fill (dummy weights). Pointers are device pointers; the
// element type of every 16-bit buffer is `dtype` (kF16 or kBF16). The residual stream is fp32.
#ifndef CORVID_KERNELS_ELEMENTWISE_H_
#define CORVID_KERNELS_ELEMENTWISE_H_

#include <cstdint>

#include "kernels/kernel_api.h"

namespace corvid::kernels {

// residual[t, :] = float(table[ids[t], :]) for t < num_tokens. Ids outside [0, vocab) give a
// zero row (the engine rejects them before they get here).
KernelError LaunchEmbedding(DataType dtype, const int32_t* ids, const void* table, int vocab,
                            int hidden, int num_tokens, float* residual, StreamHandle stream);

// For each output row i < num_rows, with r = rows ? rows[i] : i:
//   if add: residual[r, :] += float(add[r, :])      (the sum is written back)
//   out[i, :] = dtype(residual[r, :] / rms(residual[r, :]) * weight[:])
// where rms(x) = sqrt(mean(x^2) + eps).
KernelError LaunchAddRmsNorm(DataType dtype, float* residual, const void* add, const void* weight,
                             const int32_t* rows, int num_rows, int hidden, float eps, void* out,
                             StreamHandle stream);

// out[t * out_stride + i] = silu(gate_up[t, i]) * gate_up[t, inter + i] for i < inter
// (gate_up is [t, 2*inter]); columns inter..out_stride-1 are left untouched.
KernelError LaunchSiluMul(DataType dtype, const void* gate_up, int num_tokens, int inter,
                          void* out, int out_stride, StreamHandle stream);

// data[i] = offset + scale * (2u - 1), u uniform in [0, 1) from a hash of (seed, i).
KernelError LaunchRandomFill(DataType dtype, void* data, int64_t n, uint64_t seed, float scale,
                             float offset, StreamHandle stream);

}  // namespace corvid::kernels

#endif  // CORVID_KERNELS_ELEMENTWISE_H_
