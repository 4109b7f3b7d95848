// The CPU backend's matrix multiply: activations [T, K] times a weight matrix [N, K] (Hugging
// Face nn.Linear layout, rows = output features), the operation that dominates every step.
#ifndef CORVID_ENGINE_CPU_MATMUL_H_
#define CORVID_ENGINE_CPU_MATMUL_H_

namespace corvid {

struct MatMulArgs {
  const float* x = nullptr;  // [T, K], row stride ldx
  int ldx = 0;
  int num_tokens = 0;        // T
  const float* w = nullptr;  // [N, K], contiguous rows
  int rows = 0;              // N
  int k = 0;                 // K
  const float* bias = nullptr;  // [N] or nullptr
  float* y = nullptr;        // [T, N], row stride ldy
  int ldy = 0;
  bool accumulate = false;   // y += result (residual connections) instead of y = result
};

// y[t][n] = (accumulate ? y[t][n] : 0) + (dot(x[t], w[n]) + bias[n]).
//
// Each weight row is streamed from memory once for all T tokens. Work-shared (cpu_parallel.h):
// call it from every member of a ThreadTeam (it ends with a barrier), or outside one to run
// serially. Every dot product is computed by the same sequence
// (see cpu_simd.h), so results depend neither on T, on the other rows of x, nor on threads.
void MatMul(const MatMulArgs& a);

}  // namespace corvid

#endif  // CORVID_ENGINE_CPU_MATMUL_H_
