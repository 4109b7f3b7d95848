// Row-wise operations of the CPU backend (norms, rotary embedding, activation, gather). The
// matrix multiply lives in cpu_matmul.h and attention in cpu_attention.h.
//
// Threading: functions marked "work-shared" split their rows/tokens with ParallelFor (see
// cpu_parallel.h): call them from every member of a ThreadTeam (they end with a barrier) or
// outside one to run serially. Each row's result is computed by one fixed sequence whatever
// the thread count.
#ifndef CORVID_ENGINE_CPU_OPS_H_
#define CORVID_ENGINE_CPU_OPS_H_

#include <cstdint>
#include <vector>

#include "engine/cpu_matmul.h"
#include "engine/model_config.h"

namespace corvid {

// Work-shared. y[t] = weight * (x[t] / sqrt(mean(x[t]^2) + eps)), as HF LlamaRMSNorm (sum of
// squares in fp32, by simd::Dot). Rows of length n, stride n; y may alias x.
void RmsNorm(const float* x, const float* weight, int num_rows, int n, double eps, float* y);

// Rotary inverse frequencies inv_freq[i] = theta^(-2i/head_dim), i < head_dim/2, with the
// "llama3" rope_scaling applied when the config has it (as HF _compute_llama3_parameters).
std::vector<double> RopeInvFreq(const ModelConfig& config);

// cos/sin of position * inv_freq for every token of a step: [T, head_dim/2] each, computed in
// double and rounded to float once, so every layer reuses them.
void RopeTable(const std::vector<double>& inv_freq, const int32_t* positions, int num_tokens,
               float* cos_out, float* sin_out);

// Rotates `num_heads` consecutive heads of one token in place, HF rotate_half style:
// (x[i], x[i + d/2]) -> (x[i] cos[i] - x[i + d/2] sin[i], x[i + d/2] cos[i] + x[i] sin[i]).
void RopeRow(float* row, int num_heads, int head_dim, const float* cos, const float* sin);

// Work-shared. RopeRow on every token: `x` is [T, row_stride]; cos/sin tables [T, head_dim/2].
void ApplyRope(float* x, int row_stride, int num_tokens, int num_heads, int head_dim,
               const float* cos_table, const float* sin_table);

// Work-shared. out[t][i] = silu(gate_up[t][i]) * gate_up[t][n + i]; gate_up rows are [gate | up]
// (stride 2n), out rows have stride n.
void SiluMul(const float* gate_up, int num_tokens, int n, float* out);

// Work-shared. out[t] = table[ids[t]] (rows of length n).
void GatherRows(const float* table, const int32_t* ids, int num_tokens, int n, float* out);

// Work-shared. out[t] = row ids[t] of a packed matrix (a tied embedding read from lm_head).
void GatherPackedRows(const PackedMatrix& m, const int32_t* ids, int num_tokens, float* out);

}  // namespace corvid

#endif  // CORVID_ENGINE_CPU_OPS_H_
