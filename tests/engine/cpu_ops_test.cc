// Each CPU op against a naive double-precision reference, plus the invariances the backend
// relies on: results independent of the batch around a row and of the thread count.
#include "engine/cpu_ops.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "engine/cpu_attention.h"
#include "engine/cpu_matmul.h"
#include "engine/cpu_parallel.h"
#include "engine/cpu_simd.h"
#include "gtest/gtest.h"

namespace corvid {
namespace {

std::vector<float> Random(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

struct MatMulCase {
  int t, n, k;
};

std::vector<float> RunMatMul(const std::vector<float>& x, int t, const std::vector<float>& w, int n,
                             int k, const float* bias, std::vector<float> y, bool accumulate,
                             int threads) {
  std::vector<float> packed(PackedFloats(n, k), 0.0f);
  for (int r = 0; r < n; ++r) PackRow(packed.data(), k, r, w.data() + static_cast<size_t>(r) * k);
  MatMulArgs a;
  a.x = x.data();
  a.ldx = k;
  a.num_tokens = t;
  a.w = PackedMatrix{packed.data(), n, k};
  for (int r = 0; r < n; ++r) {
    for (int c = 0; c < k; ++c) EXPECT_EQ(PackedAt(a.w, r, c), w[static_cast<size_t>(r) * k + c]);
  }
  a.bias = bias;
  a.y = y.data();
  a.ldy = n;
  a.accumulate = accumulate;
  ParallelRegion(threads, [&] { MatMul(a); });
  return y;
}

TEST(CpuMatMul, MatchesDoubleReferenceOnOddShapes) {
  const MatMulCase cases[] = {{1, 1, 1},    {1, 7, 17},   {2, 172, 64}, {3, 64, 172},
                              {5, 33, 288}, {8, 300, 8},  {13, 9, 100}, {4, 16, 16},
                              {1, 97, 288}, {12, 65, 31}, {25, 40, 64}, {1, 64, 64}};
  uint32_t seed = 1;
  for (const MatMulCase& c : cases) {
    for (int variant = 0; variant < 2; ++variant) {
      const bool with_extras = variant == 1;  // bias + accumulate
      const auto x = Random(static_cast<size_t>(c.t) * c.k, seed++);
      const auto w = Random(static_cast<size_t>(c.n) * c.k, seed++);
      const auto bias = Random(c.n, seed++);
      const auto y0 = Random(static_cast<size_t>(c.t) * c.n, seed++);
      const auto y =
          RunMatMul(x, c.t, w, c.n, c.k, with_extras ? bias.data() : nullptr, y0, with_extras, 1);
      for (int t = 0; t < c.t; ++t) {
        for (int n = 0; n < c.n; ++n) {
          double ref = 0.0, mag = 0.0;
          for (int k = 0; k < c.k; ++k) {
            ref += static_cast<double>(x[t * c.k + k]) * w[n * c.k + k];
            mag += std::fabs(static_cast<double>(x[t * c.k + k]) * w[n * c.k + k]);
          }
          if (with_extras) ref += bias[n] + static_cast<double>(y0[t * c.n + n]);
          ASSERT_NEAR(y[t * c.n + n], ref, 1e-5 * (mag + 1.0))
              << "T=" << c.t << " N=" << c.n << " K=" << c.k << " t=" << t << " n=" << n;
        }
      }
    }
  }
}

TEST(CpuMatMul, RowResultIndependentOfBatchAndThreads) {
  const int t = 27, n = 172, k = 288;  // 27 tokens: full tiles and a tail
  const auto x = Random(static_cast<size_t>(t) * k, 10);
  const auto w = Random(static_cast<size_t>(n) * k, 11);
  const std::vector<float> zeros(static_cast<size_t>(t) * n, 0.0f);
  const auto batched = RunMatMul(x, t, w, n, k, nullptr, zeros, false, 1);
  for (int threads : {2, 3}) {
    EXPECT_EQ(RunMatMul(x, t, w, n, k, nullptr, zeros, false, threads), batched) << threads;
  }
  for (int row = 0; row < t; ++row) {
    const std::vector<float> one(x.begin() + row * k, x.begin() + (row + 1) * k);
    const auto alone = RunMatMul(one, 1, w, n, k, nullptr, std::vector<float>(n), false, 1);
    for (int j = 0; j < n; ++j) ASSERT_EQ(alone[j], batched[row * n + j]) << row << "," << j;
  }
}

// The documented arithmetic, exactly: a sequential fused multiply-add chain over k from 0.
TEST(CpuMatMul, EachOutputIsTheSequentialFmaChain) {
  for (int t : {1, 3, 8, 13}) {
    const int n = 70, k = 100;
    const auto x = Random(static_cast<size_t>(t) * k, 50 + t);
    const auto w = Random(static_cast<size_t>(n) * k, 60 + t);
    const auto y = RunMatMul(x, t, w, n, k, nullptr, std::vector<float>(t * n), false, 2);
    for (int i = 0; i < t; ++i) {
      for (int r = 0; r < n; ++r) {
        float acc = 0.0f;
        for (int c = 0; c < k; ++c) acc = std::fma(x[i * k + c], w[r * k + c], acc);
        ASSERT_EQ(y[i * n + r], acc) << "T=" << t << " token " << i << " row " << r;
      }
    }
  }
}

TEST(CpuOps, GatherPackedRowsReadsRowsOfAPackedMatrix) {
  const int n = 45, k = 13;
  const auto w = Random(static_cast<size_t>(n) * k, 70);
  std::vector<float> packed(PackedFloats(n, k), 0.0f);
  for (int r = 0; r < n; ++r) PackRow(packed.data(), k, r, w.data() + r * k);
  const std::vector<int32_t> ids = {44, 0, 33, 44};
  std::vector<float> out(ids.size() * k);
  GatherPackedRows(PackedMatrix{packed.data(), n, k}, ids.data(), 4, out.data());
  for (int t = 0; t < 4; ++t) {
    for (int c = 0; c < k; ++c) EXPECT_EQ(out[t * k + c], w[ids[t] * k + c]);
  }
}

TEST(CpuOps, RmsNormMatchesReference) {
  for (int n : {8, 64, 172, 288}) {
    const int rows = 3;
    const auto x = Random(static_cast<size_t>(rows) * n, n, -3.0f, 3.0f);
    const auto w = Random(n, n + 1, 0.5f, 1.5f);
    std::vector<float> y(x.size());
    RmsNorm(x.data(), w.data(), rows, n, 1e-5, y.data());
    for (int r = 0; r < rows; ++r) {
      double ss = 0.0;
      for (int i = 0; i < n; ++i) ss += static_cast<double>(x[r * n + i]) * x[r * n + i];
      const double inv = 1.0 / std::sqrt(ss / n + 1e-5);
      for (int i = 0; i < n; ++i) {
        const double ref = x[r * n + i] * inv * w[i];
        ASSERT_NEAR(y[r * n + i], ref, 1e-6 * (std::fabs(ref) + 1e-3)) << n << " " << i;
      }
    }
  }
}

TEST(CpuOps, RopeMatchesRotateHalfReference) {
  ModelConfig config;
  config.head_dim = 48;
  config.rope_theta = 10000.0;
  const auto inv_freq = RopeInvFreq(config);
  ASSERT_EQ(inv_freq.size(), 24u);
  const int tokens = 4, heads = 3, hd = 48, stride = heads * hd + 5;  // padded rows
  const std::vector<int32_t> positions = {0, 1, 37, 511};
  std::vector<float> cos_t(tokens * hd / 2), sin_t(tokens * hd / 2);
  RopeTable(inv_freq, positions.data(), tokens, cos_t.data(), sin_t.data());
  const auto x0 = Random(static_cast<size_t>(tokens) * stride, 20);
  std::vector<float> x = x0;
  ApplyRope(x.data(), stride, tokens, heads, hd, cos_t.data(), sin_t.data());
  for (int t = 0; t < tokens; ++t) {
    for (int h = 0; h < heads; ++h) {
      const float* in = x0.data() + t * stride + h * hd;
      const float* out = x.data() + t * stride + h * hd;
      for (int j = 0; j < hd; ++j) {
        const int i = j % (hd / 2);
        const double angle = positions[t] * std::pow(10000.0, -2.0 * i / hd);
        // rotate_half(x)[j] = -x[j + d/2] for j < d/2, x[j - d/2] otherwise.
        const double rot = j < hd / 2 ? -in[j + hd / 2] : in[j - hd / 2];
        const double ref = in[j] * std::cos(angle) + rot * std::sin(angle);
        ASSERT_NEAR(out[j], ref, 1e-6) << t << " " << h << " " << j;
      }
    }
    for (int j = heads * hd; j < stride; ++j) EXPECT_EQ(x[t * stride + j], x0[t * stride + j]);
  }
}

TEST(CpuOps, Llama3RopeScalingFollowsHfDefinition) {
  ModelConfig config;
  config.head_dim = 128;
  config.rope_theta = 500000.0;
  config.rope_scaling = RopeScaling{"llama3", 8.0, 1.0, 4.0, 8192};
  const auto scaled = RopeInvFreq(config);
  for (int i = 0; i < 64; ++i) {
    const double base = std::pow(500000.0, -2.0 * i / 128);
    const double wavelen = 2 * M_PI / base;
    double ref;
    if (wavelen < 8192.0 / 4.0) {
      ref = base;
    } else if (wavelen > 8192.0 / 1.0) {
      ref = base / 8.0;
    } else {
      const double smooth = (8192.0 / wavelen - 1.0) / (4.0 - 1.0);
      ref = (1 - smooth) * base / 8.0 + smooth * base;
    }
    EXPECT_NEAR(scaled[i], ref, 1e-12 * base) << i;
  }
  EXPECT_EQ(scaled[0], 1.0);  // highest frequency untouched
  EXPECT_NEAR(scaled[63] * 8.0, std::pow(500000.0, -126.0 / 128), 1e-15);
}

TEST(CpuSimd, ExpIsAccurateOverTheFloatRange) {
  std::vector<float> x;
  for (float v = -87.0f; v <= 88.0f; v += 0.01173f) x.push_back(v);
  for (float v : {0.0f, -0.0f, 1e-8f, -1e-8f, 0.34657f, -0.34658f, 1.0f, 88.5f}) x.push_back(v);
  x.resize((x.size() + simd::kLanes - 1) / simd::kLanes * simd::kLanes, 0.5f);
  double worst = 0.0;
  for (size_t i = 0; i < x.size(); i += simd::kLanes) {
    float out[simd::kLanes];
    simd::VStore(out, simd::VExp(simd::VLoad(x.data() + i)));
    for (int j = 0; j < simd::kLanes; ++j) {
      const double ref = std::exp(static_cast<double>(x[i + j]));
      if (ref < 1.2e-38) continue;  // subnormal results are not held to ulps
      worst = std::max(worst, std::fabs(out[j] - ref) / ref);
    }
  }
  EXPECT_LT(worst, 2.4e-7);  // 2 ulp
  float special[simd::kLanes];
  simd::VStore(special, simd::VExp(simd::VSet1(-INFINITY)));
  EXPECT_LT(special[0], 1e-37f);
  simd::VStore(special, simd::VExp(simd::VSet1(100.0f)));
  EXPECT_EQ(special[0], INFINITY);
  simd::VStore(special, simd::VExp(simd::VSet1(0.0f)));
  EXPECT_EQ(special[0], 1.0f);
}

TEST(CpuOps, SiluMulMatchesReference) {
  const int tokens = 3, n = 172;
  const auto gu = Random(static_cast<size_t>(tokens) * 2 * n, 30, -6.0f, 6.0f);
  std::vector<float> out(static_cast<size_t>(tokens) * n);
  SiluMul(gu.data(), tokens, n, out.data());
  for (int t = 0; t < tokens; ++t) {
    for (int i = 0; i < n; ++i) {
      const double g = gu[t * 2 * n + i], u = gu[t * 2 * n + n + i];
      const double ref = g / (1.0 + std::exp(-g)) * u;
      ASSERT_NEAR(out[t * n + i], ref, 1e-6 * (std::fabs(ref) + 1e-3));
    }
  }
}

TEST(CpuOps, GatherRowsCopiesTableRows) {
  const auto table = Random(10 * 7, 40);
  const std::vector<int32_t> ids = {3, 0, 9, 3};
  std::vector<float> out(4 * 7);
  GatherRows(table.data(), ids.data(), 4, 7, out.data());
  for (int t = 0; t < 4; ++t) {
    for (int i = 0; i < 7; ++i) EXPECT_EQ(out[t * 7 + i], table[ids[t] * 7 + i]);
  }
}

}  // namespace
}  // namespace corvid
