#include "engine/cpu_attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "engine/cpu_parallel.h"
#include "engine/cpu_simd.h"

namespace corvid {
namespace {

// Scores of the `group` query heads sharing KV head `kvh`, for one token: scores[g * n + p].
void Scores(const AttentionArgs& a, const float* q, int kvh, int group, const TokenKv& tok,
            float* scores) {
  const PagedKvLayer& kv = *a.kv;
  const int hd = kv.head_dim;
  const int n = tok.position + 1;
  for (int p0 = 0, b = 0; p0 < n; p0 += kv.block_size, ++b) {
    const int slots = std::min(kv.block_size, n - p0);
    for (int s = 0; s < slots; ++s) {
      const float* k = kv.k + kv.SlotOffset(tok.block_table[b], s) + static_cast<long>(kvh) * hd;
      for (int g = 0; g < group; ++g) {
        scores[g * n + p0 + s] = simd::Dot(q + static_cast<long>(g) * hd, k, hd) * a.scale;
      }
    }
  }
}

// Turns each head's scores into unnormalised weights exp(s - max); returns their sums.
void Softmax(float* scores, int group, int n, float* sums) {
  for (int g = 0; g < group; ++g) {
    float* s = scores + static_cast<long>(g) * n;
    float m = -std::numeric_limits<float>::infinity();
    for (int p = 0; p < n; ++p) m = std::max(m, s[p]);
    float sum = 0.0f;
    for (int p = 0; p < n; ++p) {
      s[p] = std::exp(s[p] - m);
      sum += s[p];
    }
    sums[g] = sum;
  }
}

void WeightedValues(const AttentionArgs& a, int kvh, int group, const TokenKv& tok,
                    const float* weights, const float* sums, float* out) {
  const PagedKvLayer& kv = *a.kv;
  const int hd = kv.head_dim;
  const int n = tok.position + 1;
  for (int g = 0; g < group; ++g) std::memset(out + static_cast<long>(g) * hd, 0, sizeof(float) * hd);
  for (int p0 = 0, b = 0; p0 < n; p0 += kv.block_size, ++b) {
    const int slots = std::min(kv.block_size, n - p0);
    for (int s = 0; s < slots; ++s) {
      const float* v = kv.v + kv.SlotOffset(tok.block_table[b], s) + static_cast<long>(kvh) * hd;
      for (int g = 0; g < group; ++g) {
        simd::Axpy(weights[g * n + p0 + s], v, out + static_cast<long>(g) * hd, hd);
      }
    }
  }
  for (int g = 0; g < group; ++g) {
    for (int d = 0; d < hd; ++d) out[g * hd + d] /= sums[g];
  }
}

}  // namespace

void WriteKv(const PagedKvLayer& kv, const TokenKv* tokens, int num_tokens, const float* k,
             const float* v, int row_stride) {
  const size_t bytes = sizeof(float) * kv.num_kv_heads * kv.head_dim;
  ParallelForStatic(num_tokens, [&](int t) {
    const int pos = tokens[t].position;
    const long off = kv.SlotOffset(tokens[t].block_table[pos / kv.block_size], pos % kv.block_size);
    std::memcpy(kv.k + off, k + static_cast<long>(t) * row_stride, bytes);
    std::memcpy(kv.v + off, v + static_cast<long>(t) * row_stride, bytes);
  });
}

void Attention(const AttentionArgs& a) {
  const int num_kv_heads = a.kv->num_kv_heads;
  const int group = a.num_heads / num_kv_heads;
  const int hd = a.kv->head_dim;
  const int num_items = a.num_tokens * num_kv_heads;
  ParallelFor(num_items, [&](int item) {
    thread_local std::vector<float> scores;
    float sums[256];  // group size; the backend rejects models with more heads per KV head
    const int t = item / num_kv_heads;
    const int kvh = item % num_kv_heads;
    const TokenKv& tok = a.tokens[t];
    const int n = tok.position + 1;
    if (scores.size() < static_cast<size_t>(group) * n) scores.resize(static_cast<size_t>(group) * n);
    const long head_off = static_cast<long>(kvh) * group * hd;
    Scores(a, a.q + static_cast<long>(t) * a.q_stride + head_off, kvh, group, tok, scores.data());
    Softmax(scores.data(), group, n, sums);
    WeightedValues(a, kvh, group, tok, scores.data(), sums,
                   a.out + static_cast<long>(t) * a.out_stride + head_off);
  });
}

}  // namespace corvid
