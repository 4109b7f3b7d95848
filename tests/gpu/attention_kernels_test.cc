// Paged attention kernels (split-KV decode rows and FlashAttention-2 prefill) against a double
// reference over scattered KV blocks: GQA groups of 1..20, head_dim 8..256, long and short
// contexts, chunked prefill (queries that start past cached keys). Outputs are NaN-poisoned.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "kernels/paged_attention.h"
#include "tests/gpu/gpu_test_util.h"

namespace corvid {
namespace {

using gputest::DataType;
using gputest::DeviceArray;

struct PagedCache {
  int hkv = 0, d = 0, bs = 16, num_blocks = 0;
  gputest::HalfData k, v;
  std::vector<int32_t> indptr{0}, ids;  // per sequence
  float K(int seq, int pos, int kvh, int j) const { return At(k, seq, pos, kvh, j); }
  float V(int seq, int pos, int kvh, int j) const { return At(v, seq, pos, kvh, j); }
  float At(const gputest::HalfData& c, int seq, int pos, int kvh, int j) const {
    const int blk = ids[indptr[seq] + pos / bs];
    return c.values[((size_t(blk) * hkv + kvh) * bs + pos % bs) * d + j];
  }
};

// Random cache contents and a shuffled block table for sequences of the given lengths.
PagedCache MakeCache(DataType t, int hkv, int d, const std::vector<int>& lens, uint32_t seed) {
  PagedCache c;
  c.hkv = hkv;
  c.d = d;
  for (int len : lens) c.num_blocks += (len + c.bs - 1) / c.bs;
  c.num_blocks += 3;
  std::vector<int32_t> perm(c.num_blocks);
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), std::mt19937(seed));
  int next = 0;
  for (int len : lens) {
    for (int b = 0; b < (len + c.bs - 1) / c.bs; ++b) c.ids.push_back(perm[next++]);
    c.indptr.push_back(static_cast<int32_t>(c.ids.size()));
  }
  const size_t n = size_t(c.num_blocks) * hkv * c.bs * d;
  c.k = gputest::RandomHalf(t, n, seed + 1, 1.0f);
  c.v = gputest::RandomHalf(t, n, seed + 2, 1.0f);
  return c;
}

// Reference output of one query row (all heads) seeing `ctx` keys of `seq`.
void Reference(const PagedCache& c, const std::vector<float>& q, int q_row, int heads, int seq,
               int ctx, std::vector<double>* out) {
  const int g = heads / c.hkv, d = c.d;
  for (int h = 0; h < heads; ++h) {
    std::vector<double> s(ctx);
    double m = -1e300;
    for (int p = 0; p < ctx; ++p) {
      double dot = 0.0;
      for (int j = 0; j < d; ++j) dot += double(q[(size_t(q_row) * heads + h) * d + j]) * c.K(seq, p, h / g, j);
      s[p] = dot / std::sqrt(double(d));
      m = std::max(m, s[p]);
    }
    double sum = 0.0;
    for (double& x : s) sum += (x = std::exp(x - m));
    for (int j = 0; j < d; ++j) {
      double acc = 0.0;
      for (int p = 0; p < ctx; ++p) acc += s[p] * c.V(seq, p, h / g, j);
      out->push_back(ctx > 0 ? acc / sum : 0.0);
    }
  }
}

struct DecodeCase {
  int d, heads, hkv;
};

TEST(AttentionKernels, DecodeRowsMatchReferenceForEverySplitting) {
  CORVID_SKIP_WITHOUT_GPU();
  const DecodeCase cases[] = {{8, 8, 4},   {64, 4, 4},  {128, 32, 8},
                              {128, 12, 2}, {256, 4, 2}, {64, 40, 2}};
  struct Split {
    int tokens, cap;
  };
  const Split splits[] = {{0, 1}, {128, 16}, {64, 4}};
  for (DataType t : {DataType::kBF16, DataType::kF16}) {
    for (const DecodeCase& dc : cases) {
      const PagedCache cache = MakeCache(t, dc.hkv, dc.d, {700, 37}, 100 + dc.d);
      // Rows: (token, sequence, visible keys). Rows 2 and 3 are fallback-prefill rows.
      const std::vector<int32_t> row_token = {0, 1, 2, 3, 4}, row_seq = {0, 1, 0, 0, 1};
      const std::vector<int32_t> row_ctx = {700, 37, 1, 129, 0};
      const int rows = 5;
      const auto q = gputest::RandomHalf(t, size_t(rows) * dc.heads * dc.d, 7, 2.0f);
      std::vector<double> ref;
      for (int r = 0; r < rows; ++r) Reference(cache, q.values, r, dc.heads, row_seq[r], row_ctx[r], &ref);
      DeviceArray<uint16_t> d_k, d_v, d_q, d_out(q.bits.size());
      d_k.Upload(cache.k.bits);
      d_v.Upload(cache.v.bits);
      d_q.Upload(q.bits);
      DeviceArray<int32_t> d_indptr, d_ids, d_tok, d_seq, d_ctx;
      d_indptr.Upload(cache.indptr);
      d_ids.Upload(cache.ids);
      d_tok.Upload(row_token);
      d_seq.Upload(row_seq);
      d_ctx.Upload(row_ctx);
      for (const Split& sp : splits) {
        DeviceArray<float> part(kernels::DecodePartialOutFloats(rows, dc.heads, sp.cap, dc.d));
        DeviceArray<float> ml(kernels::DecodePartialMlFloats(rows, dc.heads, sp.cap));
        DeviceArray<int32_t> counters;
        counters.Upload(std::vector<int32_t>(size_t(rows) * dc.hkv, 0));
        auto run = [&](int num_rows, const int32_t* tok, const int32_t* seq, const int32_t* ctx,
                       bool fused = false) {
          d_out.Fill(gputest::HalfNaN(t));
          kernels::DecodeAttentionParams p;
          p.q = d_q.get();
          p.out = d_out.get();
          p.kv = {d_k.get(), d_v.get(), d_indptr.get(), d_ids.get(), dc.hkv, cache.bs};
          p.row_token = tok;
          p.row_seq = seq;
          p.row_ctx = ctx;
          p.split_tokens = sp.tokens;
          p.split_cap = sp.cap;
          p.max_splits = kernels::DecodeSplits(700, sp.tokens, sp.cap);
          p.partial_out = part.get();
          p.partial_ml = ml.get();
          p.split_counters = fused ? counters.get() : nullptr;
          p.prefetch_kv = fused ? 1 : 0;
          p.num_rows = num_rows;
          p.num_heads = dc.heads;
          p.head_dim = dc.d;
          p.scale = 1.0f / std::sqrt(float(dc.d));
          EXPECT_EQ(kernels::LaunchDecodeAttention(t, p, nullptr), 0);
          EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
          return d_out.Download();
        };
        const auto batch = run(rows, d_tok.get(), d_seq.get(), d_ctx.get());
        const auto got = gputest::ToFloats(t, batch);
        EXPECT_LT(gputest::RelError(got, ref), gputest::HalfTolerance(t))
            << gputest::Name(t) << " d=" << dc.d << " heads=" << dc.heads << "/" << dc.hkv
            << " split=" << sp.tokens << "/" << sp.cap;
        // Row 0 alone (sequence 0, token 0) must give the same bits as inside the batch.
        const auto alone = run(1, nullptr, nullptr, d_ctx.get());
        const size_t row_elems = size_t(dc.heads) * dc.d;
        EXPECT_TRUE(std::equal(alone.begin(), alone.begin() + row_elems, batch.begin()))
            << "decode row depends on the batch";
        // The split merge inside the launch (arrival counters) gives the same bits as the
        // separate merge kernel, twice in a row (the counters must be left at zero).
        for (int rep = 0; rep < 2; ++rep) {
          EXPECT_EQ(run(rows, d_tok.get(), d_seq.get(), d_ctx.get(), true), batch)
              << gputest::Name(t) << " d=" << dc.d << " heads=" << dc.heads << "/" << dc.hkv
              << " split=" << sp.tokens << "/" << sp.cap << " fused merge, run " << rep;
        }
        EXPECT_EQ(counters.Download(), std::vector<int32_t>(size_t(rows) * dc.hkv, 0));
      }
    }
  }
}

struct PrefillSeq {
  int q_len, ctx;
};

// Blocks (query tiles x heads) a prefill launch needs so that the kernel takes its many-block
// shape (4 warps of 32 rows) instead of its one-wave shape (8 warps of 16 rows).
int ManyBlockLaunch() {
  int dev = 0, sms = 0;
  cudaGetDevice(&dev);
  cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
  return sms + 1;
}

// Runs the prefill kernel over `seqs` (sequence i reads the blocks ids[indptr[i]..]) and returns
// the raw 16-bit output rows of `seqs`, NaN-poisoned before the launch. With min_blocks, a filler
// sequence (its output ignored) grows the launch to at least that many blocks.
std::vector<uint16_t> RunPrefill(DataType t, const PagedCache& cache, std::vector<int32_t> indptr,
                                 std::vector<int32_t> ids, std::vector<PrefillSeq> seqs,
                                 const gputest::HalfData& q, int heads, int min_blocks = 0) {
  const int tq = kernels::kPrefillTileQueries;
  int tiles_needed = 0;
  for (const auto& s : seqs) tiles_needed += (s.q_len + tq - 1) / tq;
  std::vector<uint16_t> q_bits = q.bits;
  const int filler_tiles = std::max(0, (min_blocks + heads - 1) / heads - tiles_needed);
  if (filler_tiles > 0) {
    const int len = filler_tiles * tq;
    seqs.push_back({len, len});
    for (int b = 0; b < (len + cache.bs - 1) / cache.bs; ++b) ids.push_back(b % cache.num_blocks);
    indptr.push_back(static_cast<int32_t>(ids.size()));
    for (size_t i = 0; i < size_t(len) * heads * cache.d; ++i) q_bits.push_back(q.bits[i % q.bits.size()]);
  }
  std::vector<int32_t> qo = {0}, ctx, tiles;
  for (size_t i = 0; i < seqs.size(); ++i) {
    for (int q0 = 0; q0 < seqs[i].q_len; q0 += tq) {
      tiles.push_back(static_cast<int32_t>(i));
      tiles.push_back(q0);
    }
    qo.push_back(qo.back() + seqs[i].q_len);
    ctx.push_back(seqs[i].ctx);
  }
  DeviceArray<uint16_t> d_k, d_v, d_q, d_out(q_bits.size());
  d_k.Upload(cache.k.bits);
  d_v.Upload(cache.v.bits);
  d_q.Upload(q_bits);
  d_out.Fill(gputest::HalfNaN(t));
  DeviceArray<int32_t> d_indptr, d_ids, d_qo, d_ctx, d_tiles;
  d_indptr.Upload(indptr);
  d_ids.Upload(ids);
  d_qo.Upload(qo);
  d_ctx.Upload(ctx);
  d_tiles.Upload(tiles);
  kernels::PrefillAttentionParams p;
  p.q = d_q.get();
  p.out = d_out.get();
  p.kv = {d_k.get(), d_v.get(), d_indptr.get(), d_ids.get(), cache.hkv, cache.bs};
  p.qo_indptr = d_qo.get();
  p.ctx_len = d_ctx.get();
  p.tiles = d_tiles.get();
  p.num_tiles = static_cast<int>(tiles.size() / 2);
  p.num_heads = heads;
  p.head_dim = cache.d;
  p.scale = 1.0f / std::sqrt(float(cache.d));
  EXPECT_EQ(static_cast<int>(kernels::LaunchPrefillAttention(t, p, nullptr)), 0);
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  std::vector<uint16_t> out = d_out.Download();
  out.resize(q.bits.size());
  return out;
}

// Chunks that start and end off the 128-query and 64-key tile grid, single-query chunks,
// several tiles per sequence, head_dim 64 and 128, both 16-bit types.
TEST(AttentionKernels, PrefillMatchesReferenceWithChunkedContexts) {
  CORVID_SKIP_WITHOUT_GPU();
  const std::vector<PrefillSeq> seqs = {{100, 100}, {70, 200}, {1, 50},   {130, 131},
                                        {257, 300}, {129, 129}, {200, 333}};
  for (DataType t : {DataType::kBF16, DataType::kF16}) {
    for (int d : {64, 128}) {
      const int heads = 8, hkv = 2;
      std::vector<int> lens;
      for (const auto& s : seqs) lens.push_back(s.ctx);
      const PagedCache cache = MakeCache(t, hkv, d, lens, 300 + d);
      int tokens = 0;
      for (const auto& s : seqs) tokens += s.q_len;
      const auto q = gputest::RandomHalf(t, size_t(tokens) * heads * d, 9, 2.0f);
      std::vector<double> ref;
      for (size_t i = 0, row = 0; i < seqs.size(); ++i) {
        for (int j = 0; j < seqs[i].q_len; ++j, ++row) {
          Reference(cache, q.values, static_cast<int>(row), heads, static_cast<int>(i),
                    seqs[i].ctx - seqs[i].q_len + j + 1, &ref);
        }
      }
      // One wave of blocks, then the same rows inside a launch of many blocks: both within
      // tolerance and bit for bit the same (the launch shape must not change a row).
      const auto few = RunPrefill(t, cache, cache.indptr, cache.ids, seqs, q, heads);
      const auto many = RunPrefill(t, cache, cache.indptr, cache.ids, seqs, q, heads, ManyBlockLaunch());
      EXPECT_LT(gputest::RelError(gputest::ToFloats(t, few), ref), gputest::HalfTolerance(t))
          << gputest::Name(t) << " d=" << d << " (one wave)";
      EXPECT_LT(gputest::RelError(gputest::ToFloats(t, many), ref), gputest::HalfTolerance(t))
          << gputest::Name(t) << " d=" << d << " (many blocks)";
      EXPECT_TRUE(few == many) << gputest::Name(t) << " d=" << d << ": launch shape changed bits";
    }
  }
}

// One 300-token sequence prefilled in one go and, in the same launch, as chunks of 77, 133,
// 89 and 1 queries over the same blocks: every query row's bits must be the same, however the
// rows fall into query tiles and whatever else shares the launch.
TEST(AttentionKernels, PrefillRowsDoNotDependOnChunking) {
  CORVID_SKIP_WITHOUT_GPU();
  const int len = 300, heads = 8, hkv = 2;
  const std::vector<PrefillSeq> seqs = {{300, 300}, {77, 77}, {133, 210}, {89, 299}, {1, 300}};
  for (DataType t : {DataType::kBF16, DataType::kF16}) {
    for (int d : {64, 128}) {
      const PagedCache cache = MakeCache(t, hkv, d, {len}, 500 + d);
      std::vector<int32_t> indptr = {0}, ids;
      for (size_t i = 0; i < seqs.size(); ++i) {
        ids.insert(ids.end(), cache.ids.begin(), cache.ids.end());
        indptr.push_back(static_cast<int32_t>(ids.size()));
      }
      // The chunks' queries, back to back, are a copy of the one-shot rows.
      const size_t row_elems = size_t(heads) * d;
      auto q = gputest::RandomHalf(t, len * row_elems, 11, 2.0f);
      const std::vector<uint16_t> copy = q.bits;
      q.bits.insert(q.bits.end(), copy.begin(), copy.end());
      for (int min_blocks : {0, ManyBlockLaunch()}) {
        const auto out = RunPrefill(t, cache, indptr, ids, seqs, q, heads, min_blocks);
        ASSERT_EQ(out.size(), 2 * len * row_elems);
        const auto floats = gputest::ToFloats(t, out);
        EXPECT_TRUE(std::none_of(floats.begin(), floats.end(), [](float x) { return std::isnan(x); }));
        for (int r = 0; r < len; ++r) {
          const auto one_shot = out.begin() + r * row_elems;
          const auto chunked = out.begin() + (len + r) * row_elems;
          ASSERT_TRUE(std::equal(one_shot, one_shot + row_elems, chunked))
              << gputest::Name(t) << " d=" << d << " min_blocks=" << min_blocks << ": row " << r
              << " differs between tilings";
        }
      }
    }
  }
}

TEST(AttentionKernels, RejectsUnsupportedShapes) {
  CORVID_SKIP_WITHOUT_GPU();
  kernels::DecodeAttentionParams p;
  p.num_rows = 1;
  p.num_heads = 6;
  p.kv.num_kv_heads = 4;  // not a divisor
  p.kv.block_size = 16;
  p.head_dim = 64;
  EXPECT_NE(kernels::LaunchDecodeAttention(DataType::kBF16, p, nullptr), 0);
  p.kv.num_kv_heads = 2;
  p.head_dim = 96;  // no kernel
  EXPECT_NE(kernels::LaunchDecodeAttention(DataType::kBF16, p, nullptr), 0);
  EXPECT_FALSE(kernels::PrefillAttentionSupports(256));
}

}  // namespace
}  // namespace corvid
