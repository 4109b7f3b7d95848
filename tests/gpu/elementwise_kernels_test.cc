// Embedding gather, residual add + RMSNorm, SwiGLU and RoPE + paged KV write against double
// references on fresh random inputs, odd sizes, outputs poisoned with NaN before every run.
#include <cmath>
#include <vector>

#include "engine/cpu_ops.h"
#include "kernels/elementwise.h"
#include "kernels/rope_kv.h"
#include "tests/gpu/gpu_test_util.h"

namespace corvid {
namespace {

using gputest::DataType;
using gputest::DeviceArray;

const DataType kTypes[] = {DataType::kBF16, DataType::kF16};

TEST(ElementwiseKernels, EmbeddingGathersRowsAndZeroesBadIds) {
  CORVID_SKIP_WITHOUT_GPU();
  for (DataType t : kTypes) {
    const int vocab = 37, hidden = 24;
    const std::vector<int32_t> ids = {0, 36, 5, 5, -1, 37, 12, 3, 30};
    const auto table = gputest::RandomHalf(t, vocab * hidden, 11);
    DeviceArray<uint16_t> d_table;
    d_table.Upload(table.bits);
    DeviceArray<int32_t> d_ids;
    d_ids.Upload(ids);
    DeviceArray<float> out(ids.size() * hidden);
    out.Fill(NAN);
    CORVID_CUDA_OK(kernels::LaunchEmbedding(t, d_ids.get(), d_table.get(), vocab, hidden,
                                            static_cast<int>(ids.size()), out.get(), nullptr));
    gputest::SyncOrFail();
    const auto got = out.Download();
    for (size_t i = 0; i < ids.size(); ++i) {
      for (int h = 0; h < hidden; ++h) {
        const bool ok = ids[i] >= 0 && ids[i] < vocab;
        const float want = ok ? table.values[ids[i] * hidden + h] : 0.0f;
        ASSERT_EQ(got[i * hidden + h], want) << gputest::Name(t) << " token " << i;
      }
    }
  }
}

TEST(ElementwiseKernels, AddRmsNormMatchesReference) {
  CORVID_SKIP_WITHOUT_GPU();
  for (DataType t : kTypes) {
    for (bool with_add : {false, true}) {
      for (bool gather : {false, true}) {
        const int rows_total = 7, hidden = 4104;
        const float eps = 1e-5f;
        const std::vector<int32_t> rows =
            gather ? std::vector<int32_t>{6, 0, 3} : std::vector<int32_t>{0, 1, 2, 3, 4, 5, 6};
        const int n_out = static_cast<int>(rows.size());
        const auto res0 = gputest::RandomFloats(rows_total * hidden, 21, -3.0f, 3.0f);
        const auto add = gputest::RandomHalf(t, rows_total * hidden, 22, 2.0f);
        const auto w = gputest::RandomHalf(t, hidden, 23, 1.5f);
        DeviceArray<float> d_res;
        d_res.Upload(res0);
        DeviceArray<uint16_t> d_add, d_w, d_out(n_out * hidden);
        d_add.Upload(add.bits);
        d_w.Upload(w.bits);
        d_out.Fill(gputest::HalfNaN(t));
        DeviceArray<int32_t> d_rows;
        d_rows.Upload(rows);
        CORVID_CUDA_OK(kernels::LaunchAddRmsNorm(t, d_res.get(), with_add ? d_add.get() : nullptr,
                                                 d_w.get(), gather ? d_rows.get() : nullptr,
                                                 n_out, hidden, eps, d_out.get(), nullptr));
        gputest::SyncOrFail();
        const auto res = d_res.Download();
        const auto out = gputest::ToFloats(t, d_out.Download());
        std::vector<float> got;
        std::vector<double> ref;
        for (int i = 0; i < n_out; ++i) {
          const int r = rows[i];
          double ss = 0.0;
          std::vector<double> x(hidden);
          for (int h = 0; h < hidden; ++h) {
            const float sum = with_add ? res0[r * hidden + h] + add.values[r * hidden + h]
                                       : res0[r * hidden + h];
            ASSERT_EQ(res[r * hidden + h], sum) << "residual row " << r;
            x[h] = sum;
            ss += x[h] * x[h];
          }
          const double inv = 1.0 / std::sqrt(ss / hidden + eps);
          for (int h = 0; h < hidden; ++h) {
            ref.push_back(x[h] * inv * w.values[h]);
            got.push_back(out[i * hidden + h]);
          }
        }
        EXPECT_LT(gputest::RelError(got, ref), gputest::HalfTolerance(t))
            << gputest::Name(t) << " add=" << with_add << " gather=" << gather;
      }
    }
  }
}

TEST(ElementwiseKernels, SiluMulWritesOnlyTheLogicalColumns) {
  CORVID_SKIP_WITHOUT_GPU();
  for (DataType t : kTypes) {
    const int tokens = 5, inter = 172, stride = 176;
    const auto gu = gputest::RandomHalf(t, tokens * 2 * inter, 31, 4.0f);
    DeviceArray<uint16_t> d_gu, d_out(tokens * stride);
    d_gu.Upload(gu.bits);
    d_out.Fill(gputest::HalfNaN(t));
    CORVID_CUDA_OK(
        kernels::LaunchSiluMul(t, d_gu.get(), tokens, inter, d_out.get(), stride, nullptr));
    gputest::SyncOrFail();
    const auto raw = d_out.Download();
    std::vector<float> got;
    std::vector<double> ref;
    for (int i = 0; i < tokens; ++i) {
      for (int j = 0; j < stride; ++j) {
        const uint16_t bits = raw[i * stride + j];
        if (j >= inter) {
          ASSERT_EQ(bits, gputest::HalfNaN(t)) << "padding column written";
          continue;
        }
        const double g = gu.values[i * 2 * inter + j], u = gu.values[i * 2 * inter + inter + j];
        ref.push_back(g / (1.0 + std::exp(-g)) * u);
        got.push_back(gputest::FromHalf(t, bits));
      }
    }
    EXPECT_LT(gputest::RelError(got, ref), gputest::HalfTolerance(t)) << gputest::Name(t);
  }
}

// Positions up to 9000 with Llama 3 frequency scaling, a bias, GQA, scattered KV slots and one
// padding slot (-1) that must write nothing.
TEST(ElementwiseKernels, RopeKvRotatesAndScattersIntoThePagedCache) {
  CORVID_SKIP_WITHOUT_GPU();
  ModelConfig c;
  c.hidden_size = 256;
  c.num_heads = 4;
  c.num_kv_heads = 2;
  c.head_dim = 64;
  c.rope_theta = 500000.0;
  c.rope_scaling = RopeScaling{"llama3", 32.0, 1.0, 4.0, 8192};
  std::vector<float> inv_freq;
  for (double f : RopeInvFreq(c)) inv_freq.push_back(static_cast<float>(f));
  for (DataType t : kTypes) {
    const int tokens = 6, d = c.head_dim, hq = c.num_heads, hkv = c.num_kv_heads, bs = 16;
    const int width = (hq + 2 * hkv) * d, num_blocks = 5;
    const std::vector<int32_t> pos = {0, 1, 17, 300, 8191, 9000};
    const std::vector<int32_t> slots = {5, 16 * 3 + 2, -1, 79, 16 * 2 + 15, 0};
    const auto qkv = gputest::RandomHalf(t, tokens * width, 41, 2.0f);
    const auto bias = gputest::RandomHalf(t, width, 42, 0.5f);
    DeviceArray<uint16_t> d_qkv, d_bias, d_q(tokens * hq * d);
    DeviceArray<uint16_t> d_k(num_blocks * hkv * bs * d), d_v(num_blocks * hkv * bs * d);
    d_qkv.Upload(qkv.bits);
    d_bias.Upload(bias.bits);
    for (auto* a : {&d_q, &d_k, &d_v}) a->Fill(gputest::HalfNaN(t));
    DeviceArray<int32_t> d_pos, d_slots;
    d_pos.Upload(pos);
    d_slots.Upload(slots);
    DeviceArray<float> d_freq;
    d_freq.Upload(inv_freq);
    kernels::RopeKvParams p;
    p.qkv = d_qkv.get();
    p.bias = d_bias.get();
    p.positions = d_pos.get();
    p.slot_mapping = d_slots.get();
    p.inv_freq = d_freq.get();
    p.q_out = d_q.get();
    p.k_cache = d_k.get();
    p.v_cache = d_v.get();
    p.num_tokens = tokens;
    p.num_heads = hq;
    p.num_kv_heads = hkv;
    p.head_dim = d;
    p.block_size = bs;
    CORVID_CUDA_OK(kernels::LaunchRopeKv(t, p, nullptr));
    gputest::SyncOrFail();
    const auto q = gputest::ToFloats(t, d_q.Download());
    const auto k = gputest::ToFloats(t, d_k.Download());
    const auto v = gputest::ToFloats(t, d_v.Download());
    std::vector<float> got;
    std::vector<double> ref;
    std::vector<bool> written(k.size(), false);
    for (int i = 0; i < tokens; ++i) {
      auto x = [&](int col) { return double(qkv.values[i * width + col]) + bias.values[col]; };
      for (int head = 0; head < hq + hkv; ++head) {
        for (int j = 0; j < d / 2; ++j) {
          const double a = double(pos[i]) * inv_freq[j];
          const double x1 = x(head * d + j), x2 = x(head * d + j + d / 2);
          const double y1 = x1 * std::cos(a) - x2 * std::sin(a);
          const double y2 = x2 * std::cos(a) + x1 * std::sin(a);
          if (head < hq) {
            got.push_back(q[(i * hq + head) * d + j]);
            got.push_back(q[(i * hq + head) * d + j + d / 2]);
          } else if (slots[i] >= 0) {
            const int kvh = head - hq, blk = slots[i] / bs, off = slots[i] % bs;
            const size_t base = ((size_t(blk) * hkv + kvh) * bs + off) * d;
            got.push_back(k[base + j]);
            got.push_back(k[base + j + d / 2]);
            written[base + j] = written[base + j + d / 2] = true;
          } else {
            continue;
          }
          ref.push_back(y1);
          ref.push_back(y2);
        }
      }
      if (slots[i] < 0) continue;
      for (int kvh = 0; kvh < hkv; ++kvh) {
        for (int j = 0; j < d; ++j) {
          const size_t base = ((size_t(slots[i] / bs) * hkv + kvh) * bs + slots[i] % bs) * d;
          got.push_back(v[base + j]);
          ref.push_back(x((hq + hkv + kvh) * d + j));
        }
      }
    }
    EXPECT_LT(gputest::RelError(got, ref), gputest::HalfTolerance(t)) << gputest::Name(t);
    for (size_t i = 0; i < k.size(); ++i) {
      if (!written[i]) {
        ASSERT_TRUE(std::isnan(k[i])) << "stray K write at " << i;
      }
    }
  }
}

TEST(ElementwiseKernels, RandomFillIsSeededAndBounded) {
  CORVID_SKIP_WITHOUT_GPU();
  const DataType t = DataType::kBF16;
  const int64_t n = 100003;
  DeviceArray<uint16_t> a(n), b(n), c(n);
  CORVID_CUDA_OK(kernels::LaunchRandomFill(t, a.get(), n, 5, 0.25f, 1.0f, nullptr));
  CORVID_CUDA_OK(kernels::LaunchRandomFill(t, b.get(), n, 5, 0.25f, 1.0f, nullptr));
  CORVID_CUDA_OK(kernels::LaunchRandomFill(t, c.get(), n, 6, 0.25f, 1.0f, nullptr));
  gputest::SyncOrFail();
  const auto va = gputest::ToFloats(t, a.Download());
  EXPECT_EQ(a.Download(), b.Download());
  EXPECT_NE(a.Download(), c.Download());
  double mean = 0.0;
  for (float x : va) {
    ASSERT_GE(x, 0.75f);
    ASSERT_LE(x, 1.25f);
    mean += x;
  }
  EXPECT_NEAR(mean / n, 1.0, 0.01);
}

}  // namespace
}  // namespace corvid
