// Paged causal GQA attention against a double-precision reference on contiguous K/V.
#include "engine/cpu_attention.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "engine/cpu_parallel.h"
#include "gtest/gtest.h"

namespace corvid {
namespace {

std::vector<float> Random(size_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

struct Geometry {
  int heads, kv_heads, hd, block_size, len;
};

class PagedAttentionTest : public ::testing::TestWithParam<Geometry> {};

// One sequence of `len` tokens written into scattered blocks; every position queries.
TEST_P(PagedAttentionTest, MatchesContiguousReference) {
  const Geometry g = GetParam();
  const int kv_dim = g.kv_heads * g.hd, q_dim = g.heads * g.hd;
  const int num_blocks = (g.len + g.block_size - 1) / g.block_size + 3;
  std::vector<float> k_cache(static_cast<size_t>(num_blocks) * g.block_size * kv_dim, NAN);
  std::vector<float> v_cache(k_cache.size(), NAN);  // NaN: reading an unwritten slot shows
  PagedKvLayer kv{k_cache.data(), v_cache.data(), g.block_size, g.kv_heads, g.hd};
  std::vector<int32_t> table;
  for (int b = 0; b < num_blocks - 3; ++b) table.push_back((b * 5 + 2) % num_blocks);
  const auto q = Random(static_cast<size_t>(g.len) * q_dim, 1);
  const auto k = Random(static_cast<size_t>(g.len) * kv_dim, 2);
  const auto v = Random(static_cast<size_t>(g.len) * kv_dim, 3);
  std::vector<TokenKv> toks(g.len);
  for (int t = 0; t < g.len; ++t) toks[t] = TokenKv{table.data(), t};
  WriteKv(kv, toks.data(), g.len, k.data(), v.data(), kv_dim);
  std::vector<float> out(static_cast<size_t>(g.len) * q_dim);
  const float scale = 1.0f / std::sqrt(static_cast<float>(g.hd));
  AttentionArgs a{q.data(), q_dim, g.heads, &kv, toks.data(), g.len, scale, out.data(), q_dim};
  ParallelRegion(2, [&] { Attention(a); });

  const int group = g.heads / g.kv_heads;
  for (int t = 0; t < g.len; ++t) {
    for (int h = 0; h < g.heads; ++h) {
      const int kvh = h / group;
      std::vector<double> s(t + 1);
      double m = -1e300, sum = 0.0;
      for (int p = 0; p <= t; ++p) {
        double dot = 0.0;
        for (int d = 0; d < g.hd; ++d) {
          dot += static_cast<double>(q[t * q_dim + h * g.hd + d]) * k[p * kv_dim + kvh * g.hd + d];
        }
        s[p] = dot / std::sqrt(static_cast<double>(g.hd));
        m = std::max(m, s[p]);
      }
      for (double& x : s) sum += (x = std::exp(x - m));
      for (int d = 0; d < g.hd; ++d) {
        double ref = 0.0;
        for (int p = 0; p <= t; ++p) ref += s[p] * v[p * kv_dim + kvh * g.hd + d];
        ASSERT_NEAR(out[t * q_dim + h * g.hd + d], ref / sum, 2e-6) << t << " " << h << " " << d;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, PagedAttentionTest,
                         ::testing::Values(Geometry{8, 4, 8, 16, 44},      // stories260K
                                           Geometry{6, 6, 48, 16, 40},     // llama2c-15m
                                           Geometry{4, 1, 20, 3, 17},      // MQA, odd sizes
                                           Geometry{8, 2, 128, 16, 33}));  // Llama-like head

// A token's output is bit-identical whether it runs alone or beside other sequences' tokens.
TEST(PagedAttention, TokenResultIndependentOfBatch) {
  const int heads = 4, kv_heads = 2, hd = 16, bs = 4, len = 10;
  const int kv_dim = kv_heads * hd, q_dim = heads * hd;
  std::vector<float> k_cache(16 * bs * kv_dim), v_cache(k_cache.size());
  PagedKvLayer kv{k_cache.data(), v_cache.data(), bs, kv_heads, hd};
  const std::vector<int32_t> table_a = {0, 1, 2}, table_b = {7, 4, 9};
  const auto k = Random(static_cast<size_t>(len) * kv_dim, 5);
  const auto v = Random(k.size(), 6);
  const auto q = Random(static_cast<size_t>(3) * q_dim, 7);
  std::vector<TokenKv> toks;
  for (int t = 0; t < len; ++t) toks.push_back(TokenKv{table_a.data(), t});
  WriteKv(kv, toks.data(), len, k.data(), v.data(), kv_dim);
  toks.clear();
  for (int t = 0; t < len; ++t) toks.push_back(TokenKv{table_b.data(), t});
  WriteKv(kv, toks.data(), len, k.data(), v.data(), kv_dim);  // same data, other blocks

  const TokenKv alone_tok{table_a.data(), 9};
  std::vector<float> alone(q_dim);
  AttentionArgs a{q.data(), q_dim, heads, &kv, &alone_tok, 1, 0.25f, alone.data(), q_dim};
  Attention(a);
  // Batch: another sequence first, then the same query at a different place in the batch.
  std::vector<float> q3(q.begin(), q.end());
  std::copy(q.begin(), q.begin() + q_dim, q3.begin() + 2 * q_dim);
  const TokenKv batch[3] = {{table_b.data(), 5}, {table_b.data(), 9}, {table_a.data(), 9}};
  std::vector<float> out(3 * q_dim);
  AttentionArgs b{q3.data(), q_dim, heads, &kv, batch, 3, 0.25f, out.data(), q_dim};
  ParallelRegion(3, [&] { Attention(b); });
  for (int j = 0; j < q_dim; ++j) EXPECT_EQ(out[2 * q_dim + j], alone[j]) << j;
}

}  // namespace
}  // namespace corvid
