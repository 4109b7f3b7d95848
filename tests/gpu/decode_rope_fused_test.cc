// The RoPE/KV write fused into the decode-attention launch (DecodeAttentionParams::rope_qkv)
// against the unfused path it replaces (LaunchRopeKv, then the decode launch; each is checked
// against double references in elementwise_kernels_test and attention_kernels_test): the output
// rows and the whole KV cache must be bit for bit the same, for newest keys in the first, second
// and later tiles of a split, single-split rows, a one-key row and a padding row (no keys, no
// write). The newest keys' slots are NaN-poisoned first, so a fused launch that read them
// instead of its own rotated key, or never wrote them, fails.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "engine/cpu_ops.h"
#include "engine/model_config.h"
#include "kernels/paged_attention.h"
#include "kernels/rope_kv.h"
#include "tests/gpu/gpu_test_util.h"

namespace corvid {
namespace {

using gputest::DataType;
using gputest::DeviceArray;

constexpr int kBlock = 16;

struct Shape {
  int d, heads, hkv;
  bool bias;
};

struct Split {
  int tokens, cap;
};

// Decode rows over scattered blocks: row r is token row_token[r] of sequence row_seq[r] with
// row_ctx[r] keys (the newest, ctx - 1, is this step's token).
struct Rows {
  std::vector<int32_t> ctx = {640, 1, 384, 129, 0, 577, 64, 65, 192};
  std::vector<int32_t> token, seq, indptr{0}, ids, pos, slots;
  int num_blocks = 0;
};

Rows MakeRows(uint32_t seed) {
  Rows r;
  const int n = static_cast<int>(r.ctx.size());
  for (int i = 0; i < n; ++i) r.num_blocks += (r.ctx[i] + kBlock - 1) / kBlock;
  r.num_blocks += 2;
  std::vector<int32_t> perm(r.num_blocks);
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), std::mt19937(seed));
  for (int i = 0; i < n; ++i) {
    r.seq.push_back(i);
    r.token.push_back(i == 0 ? 0 : n - i);  // row 0 is token 0: the "alone" launch below
    for (int b = 0; b < (r.ctx[i] + kBlock - 1) / kBlock; ++b) r.ids.push_back(perm[r.ids.size()]);
    r.indptr.push_back(static_cast<int32_t>(r.ids.size()));
  }
  r.pos.assign(n, 0);
  r.slots.assign(n, -1);
  for (int i = 0; i < n; ++i) {
    const int c = r.ctx[i], t = r.token[i];
    if (c == 0) continue;  // padding row: position 0, no slot
    r.pos[t] = c - 1;
    r.slots[t] = r.ids[r.indptr[i] + (c - 1) / kBlock] * kBlock + (c - 1) % kBlock;
  }
  return r;
}

struct Outputs {
  std::vector<uint16_t> out, k, v;
};

class FusedRopeCase {
 public:
  FusedRopeCase(DataType t, const Shape& s) : t_(t), s_(s), rows_(MakeRows(7 + s.d + s.heads)) {
    const int width = (s.heads + 2 * s.hkv) * s.d, n = static_cast<int>(rows_.ctx.size());
    const size_t cache = size_t(rows_.num_blocks) * s.hkv * kBlock * s.d;
    k0_ = gputest::RandomHalf(t, cache, 11 + s.d, 1.0f).bits;
    v0_ = gputest::RandomHalf(t, cache, 12 + s.d, 1.0f).bits;
    for (int i = 0; i < n; ++i) {  // poison the slots this step writes
      if (rows_.slots[i] < 0) continue;
      const int blk = rows_.slots[i] / kBlock, off = rows_.slots[i] % kBlock;
      for (int h = 0; h < s.hkv; ++h) {
        const size_t at = ((size_t(blk) * s.hkv + h) * kBlock + off) * s.d;
        std::fill(k0_.begin() + at, k0_.begin() + at + s.d, gputest::HalfNaN(t));
        std::fill(v0_.begin() + at, v0_.begin() + at + s.d, gputest::HalfNaN(t));
      }
    }
    qkv_.Upload(gputest::RandomHalf(t, size_t(n) * width, 13, 2.0f).bits);
    if (s.bias) bias_.Upload(gputest::RandomHalf(t, width, 14, 0.5f).bits);
    ModelConfig c;
    c.head_dim = s.d;
    c.rope_theta = 500000.0;
    c.rope_scaling = RopeScaling{"llama3", 8.0, 1.0, 4.0, 8192};
    std::vector<float> f;
    for (double x : RopeInvFreq(c)) f.push_back(static_cast<float>(x));
    freq_.Upload(f);
    for (auto [dev, host] : {std::pair{&indptr_, &rows_.indptr}, {&ids_, &rows_.ids},
                             {&tok_, &rows_.token}, {&seq_, &rows_.seq}, {&ctx_, &rows_.ctx},
                             {&pos_, &rows_.pos}, {&slots_, &rows_.slots}}) {
      dev->Upload(*host);
    }
    counters_.Upload(std::vector<int32_t>(size_t(n) * s.hkv, 0));
  }

  // Unfused (RopeKv, then the decode launch) or fused; all rows, or row 0 alone.
  Outputs Run(const Split& sp, bool fused, bool alone) {
    const int n = static_cast<int>(rows_.ctx.size());
    DeviceArray<uint16_t> k, v, q(size_t(n) * s_.heads * s_.d), out(q.size());
    k.Upload(k0_);
    v.Upload(v0_);
    out.Fill(gputest::HalfNaN(t_));
    DeviceArray<float> part(kernels::DecodePartialOutFloats(n, s_.heads, sp.cap, s_.d));
    DeviceArray<float> ml(kernels::DecodePartialMlFloats(n, s_.heads, sp.cap));
    if (!fused) {
      kernels::RopeKvParams r;
      r.qkv = qkv_.get();
      r.bias = bias_.get();
      r.positions = pos_.get();
      r.slot_mapping = slots_.get();
      r.inv_freq = freq_.get();
      r.q_out = q.get();
      r.k_cache = k.get();
      r.v_cache = v.get();
      r.num_tokens = n;
      r.num_heads = s_.heads;
      r.num_kv_heads = s_.hkv;
      r.head_dim = s_.d;
      r.block_size = kBlock;
      EXPECT_EQ(kernels::LaunchRopeKv(t_, r, nullptr), 0);
    }
    kernels::DecodeAttentionParams p;
    p.q = fused ? nullptr : q.get();
    p.out = out.get();
    p.kv = {k.get(), v.get(), indptr_.get(), ids_.get(), s_.hkv, kBlock};
    p.row_token = alone ? nullptr : tok_.get();
    p.row_seq = alone ? nullptr : seq_.get();
    p.row_ctx = ctx_.get();
    p.split_tokens = sp.tokens;
    p.split_cap = sp.cap;
    p.max_splits = kernels::DecodeSplits(640, sp.tokens, sp.cap);
    p.partial_out = part.get();
    p.partial_ml = ml.get();
    p.split_counters = counters_.get();
    p.prefetch_kv = 1;
    if (fused) {
      p.rope_qkv = qkv_.get();
      p.rope_bias = bias_.get();
      p.rope_inv_freq = freq_.get();
    }
    p.num_rows = alone ? 1 : n;
    p.num_heads = s_.heads;
    p.head_dim = s_.d;
    p.scale = 1.0f / std::sqrt(float(s_.d));
    EXPECT_EQ(kernels::LaunchDecodeAttention(t_, p, nullptr), 0);
    EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    return {out.Download(), k.Download(), v.Download()};
  }

  std::vector<int32_t> Counters() const { return counters_.Download(); }
  size_t RowElems() const { return size_t(s_.heads) * s_.d; }

 private:
  DataType t_;
  Shape s_;
  Rows rows_;
  std::vector<uint16_t> k0_, v0_;
  DeviceArray<uint16_t> qkv_, bias_;
  DeviceArray<float> freq_;
  DeviceArray<int32_t> indptr_, ids_, tok_, seq_, ctx_, pos_, slots_, counters_;
};

TEST(DecodeRopeFused, SameBitsAsRopeKvThenDecodeAttention) {
  CORVID_SKIP_WITHOUT_GPU();
  const Shape shapes[] = {{128, 32, 8, false}, {64, 8, 2, true}, {128, 16, 1, true},
                          {64, 4, 4, false}};
  const Split splits[] = {{192, 16}, {0, 1}, {64, 4}};
  for (DataType t : {DataType::kBF16, DataType::kF16}) {
    for (const Shape& s : shapes) {
      if (!kernels::DecodeAttentionFusesRope(s.d, s.heads / s.hkv)) {
        GTEST_SKIP() << "fused RoPE off (CORVID_FUSED_ROPE=0 or CORVID_DECODE_ATTN=warp4)";
      }
      FusedRopeCase c(t, s);
      for (const Split& sp : splits) {
        const std::string what = std::string(gputest::Name(t)) + " d=" + std::to_string(s.d) +
                                 " heads=" + std::to_string(s.heads) + "/" +
                                 std::to_string(s.hkv) + " split=" + std::to_string(sp.tokens);
        const Outputs ref = c.Run(sp, false, false);
        const auto ref_f = gputest::ToFloats(t, ref.out);
        ASSERT_TRUE(std::none_of(ref_f.begin(), ref_f.end(), [](float x) { return std::isnan(x); }))
            << what << ": unfused path left NaNs";
        for (int rep = 0; rep < 2; ++rep) {
          const Outputs got = c.Run(sp, true, false);
          EXPECT_TRUE(got.out == ref.out) << what << ": fused output differs, run " << rep;
          EXPECT_TRUE(got.k == ref.k) << what << ": fused K cache differs";
          EXPECT_TRUE(got.v == ref.v) << what << ": fused V cache differs";
        }
        const Outputs alone = c.Run(sp, true, true);
        EXPECT_TRUE(std::equal(alone.out.begin(), alone.out.begin() + c.RowElems(),
                               ref.out.begin()))
            << what << ": fused row 0 alone differs from the batch";
        EXPECT_EQ(c.Counters(), std::vector<int32_t>(c.Counters().size(), 0)) << what;
      }
    }
  }
}

}  // namespace
}  // namespace corvid
