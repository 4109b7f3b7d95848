// The CPU backend's matrix multiply: activations [T, K] times a weight matrix of N rows of K
// (Hugging Face nn.Linear layout, rows = output features), the operation that dominates every
// step.
//
// Weights are packed once at load into panels of kPanelRows rows stored k-major
// (panel[k][r]), so a kernel accumulates kPanelRows outputs in vector lanes with no horizontal
// reduction, and each panel is one contiguous stream read once for all T tokens.
#ifndef CORVID_ENGINE_CPU_MATMUL_H_
#define CORVID_ENGINE_CPU_MATMUL_H_

#include <cstdint>

#include "engine/cpu_simd.h"

namespace corvid {

// Two vector registers of rows per panel: 32 with AVX-512, 16 otherwise.
constexpr int kPanelRows = 2 * simd::kLanes;

// A packed [rows, k] matrix: ceil(rows / kPanelRows) panels of k * kPanelRows floats; element
// (r, c) at data[(r / kPanelRows) * k * kPanelRows + c * kPanelRows + r % kPanelRows]. Rows past
// `rows` in the last panel are padding (zeros).
struct PackedMatrix {
  const float* data = nullptr;
  int rows = 0;
  int k = 0;
};

// Floats a packed [rows, k] matrix occupies, padding included.
int64_t PackedFloats(int rows, int k);
// Stores row `r` (k floats) of a packed matrix.
void PackRow(float* packed, int k, int r, const float* row);
// Reads element (r, c) of a packed matrix.
inline float PackedAt(const PackedMatrix& m, int r, int c) {
  return m.data[static_cast<int64_t>(r / kPanelRows) * m.k * kPanelRows +
                static_cast<int64_t>(c) * kPanelRows + r % kPanelRows];
}

struct MatMulArgs {
  const float* x = nullptr;  // [T, K], row stride ldx
  int ldx = 0;
  int num_tokens = 0;           // T
  PackedMatrix w;               // [N, K]
  const float* bias = nullptr;  // [N] or nullptr
  float* y = nullptr;           // [T, N], row stride ldy
  int ldy = 0;
  bool accumulate = false;  // y += result (residual connections) instead of y = result
};

// y[t][n] = (accumulate ? y[t][n] : 0) + (dot(x[t], w[n]) + bias[n]), where every dot product
// is the sequential fused multiply-add chain over k = 0, 1, ..., K-1 starting from 0: the same
// arithmetic whatever T, the tile or the thread, so results never depend on the batch.
//
// Work-shared (cpu_parallel.h): call it from every member of a ThreadTeam (it ends with a
// barrier), or outside one to run serially.
void MatMul(const MatMulArgs& a);

}  // namespace corvid

#endif  // CORVID_ENGINE_CPU_MATMUL_H_
