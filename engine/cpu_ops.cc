#include "engine/cpu_ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/cpu_parallel.h"
#include "engine/cpu_simd.h"

namespace corvid {

void RmsNorm(const float* x, const float* weight, int num_rows, int n, double eps, float* y) {
  ParallelForStatic(num_rows, [&](int r) {
    const float* xr = x + static_cast<long>(r) * n;
    float* yr = y + static_cast<long>(r) * n;
    // fp32 like HF's variance, in the fixed order of simd::Dot.
    const double sum_sq = simd::Dot(xr, xr, n);
    const float inv = static_cast<float>(1.0 / std::sqrt(sum_sq / n + eps));
    for (int i = 0; i < n; ++i) yr[i] = weight[i] * (xr[i] * inv);
  });
}

std::vector<double> RopeInvFreq(const ModelConfig& config) {
  const int half = config.head_dim / 2;
  std::vector<double> inv_freq(half);
  for (int i = 0; i < half; ++i) {
    inv_freq[i] = 1.0 / std::pow(config.rope_theta, 2.0 * i / config.head_dim);
  }
  if (!config.rope_scaling.has_value()) return inv_freq;
  // Llama 3.1: long wavelengths are slowed down by `factor`, short ones kept, and the band in
  // between interpolated smoothly.
  const RopeScaling& s = *config.rope_scaling;
  const double old_len = s.original_max_position_embeddings;
  const double low_freq_wavelen = old_len / s.low_freq_factor;
  const double high_freq_wavelen = old_len / s.high_freq_factor;
  for (double& f : inv_freq) {
    const double wavelen = 2.0 * M_PI / f;
    if (wavelen < high_freq_wavelen) continue;
    if (wavelen > low_freq_wavelen) {
      f /= s.factor;
      continue;
    }
    const double smooth =
        (old_len / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
    f = (1.0 - smooth) * f / s.factor + smooth * f;
  }
  return inv_freq;
}

void RopeTable(const std::vector<double>& inv_freq, const int32_t* positions, int num_tokens,
               float* cos_out, float* sin_out) {
  const int half = static_cast<int>(inv_freq.size());
  for (int t = 0; t < num_tokens; ++t) {
    for (int i = 0; i < half; ++i) {
      const double angle = static_cast<double>(positions[t]) * inv_freq[i];
      cos_out[t * half + i] = static_cast<float>(std::cos(angle));
      sin_out[t * half + i] = static_cast<float>(std::sin(angle));
    }
  }
}

void RopeRow(float* row, int num_heads, int head_dim, const float* c, const float* s) {
  const int half = head_dim / 2;
  for (int h = 0; h < num_heads; ++h) {
    float* v = row + static_cast<long>(h) * head_dim;
    for (int i = 0; i < half; ++i) {
      const float a = v[i];
      const float b = v[i + half];
      v[i] = a * c[i] - b * s[i];
      v[i + half] = b * c[i] + a * s[i];
    }
  }
}

void ApplyRope(float* x, int row_stride, int num_tokens, int num_heads, int head_dim,
               const float* cos_table, const float* sin_table) {
  const int half = head_dim / 2;
  ParallelForStatic(num_tokens, [&](int t) {
    RopeRow(x + static_cast<long>(t) * row_stride, num_heads, head_dim,
            cos_table + static_cast<long>(t) * half, sin_table + static_cast<long>(t) * half);
  });
}

void SiluMul(const float* gate_up, int num_tokens, int n, float* out) {
  using simd::VecF;
  const VecF one = simd::VSet1(1.0f), zero = simd::VZero();
  ParallelForStatic(num_tokens, [&](int t) {
    const float* g = gate_up + static_cast<long>(t) * 2 * n;
    const float* u = g + n;
    float* o = out + static_cast<long>(t) * n;
    for (int i = 0; i < n; i += simd::kLanes) {
      const int m = std::min(simd::kLanes, n - i);
      const VecF gv = m == simd::kLanes ? simd::VLoad(g + i) : simd::VLoadPartial(g + i, m);
      const VecF uv = m == simd::kLanes ? simd::VLoad(u + i) : simd::VLoadPartial(u + i, m);
      // silu(g) = g * sigmoid(g) = g / (1 + e^-g)
      const VecF s = simd::VDiv(gv, simd::VAdd(one, simd::VExp(simd::VSub(zero, gv))));
      const VecF r = simd::VMul(s, uv);
      if (m == simd::kLanes) {
        simd::VStore(o + i, r);
      } else {
        simd::VStorePartial(o + i, r, m);
      }
    }
  });
}

void GatherRows(const float* table, const int32_t* ids, int num_tokens, int n, float* out) {
  ParallelForStatic(num_tokens, [&](int t) {
    std::memcpy(out + static_cast<long>(t) * n, table + static_cast<long>(ids[t]) * n,
                sizeof(float) * n);
  });
}

void GatherPackedRows(const PackedMatrix& m, const int32_t* ids, int num_tokens, float* out) {
  ParallelForStatic(num_tokens, [&](int t) {
    float* o = out + static_cast<long>(t) * m.k;
    for (int c = 0; c < m.k; ++c) o[c] = PackedAt(m, ids[t], c);
  });
}

}  // namespace corvid
