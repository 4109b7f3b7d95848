// The CPU backend against a naive double-precision Llama forward pass written here from the
// Hugging Face definitions, on synthetic models that cover what stories260K does not: untied
// lm_head, q/k/v biases (Qwen2), o_proj bias (Llama attention_bias), llama3 RoPE scaling,
// multi-query attention, BF16/F16 storage, odd block sizes.
#include <cmath>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/cpu_backend.h"
#include "engine/direct_step.h"
#include "engine/model_presets.h"
#include "engine/weights.h"
#include "gtest/gtest.h"

namespace corvid {
namespace {

using Vec = std::vector<double>;

// Reads a tensor of the store as doubles (row-major).
Vec Tensor(const WeightStore& s, const std::string& name) {
  const TensorView* t = s.Find(name);
  if (t == nullptr) return {};
  std::vector<float> f(t->numel());
  ConvertToF32(t->dtype, t->data, f.data(), t->numel());
  return Vec(f.begin(), f.end());
}

// y = W x (+ b) for W [rows, x.size()].
Vec Linear(const Vec& w, const Vec& x, const Vec& bias = {}) {
  const size_t rows = w.size() / x.size();
  Vec y(rows, 0.0);
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < x.size(); ++c) y[r] += w[r * x.size() + c] * x[c];
    if (!bias.empty()) y[r] += bias[r];
  }
  return y;
}

Vec RmsNorm(const Vec& x, const Vec& w, double eps) {
  double ss = 0.0;
  for (double v : x) ss += v * v;
  const double inv = 1.0 / std::sqrt(ss / x.size() + eps);
  Vec y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = w[i] * x[i] * inv;
  return y;
}

// HF: inv_freq = 1 / theta^(arange(0, d, 2) / d), then _compute_llama3_parameters.
Vec InvFreq(const ModelConfig& c) {
  Vec f;
  for (int i = 0; i < c.head_dim; i += 2)
    f.push_back(1.0 / std::pow(c.rope_theta, double(i) / c.head_dim));
  if (!c.rope_scaling) return f;
  const RopeScaling& s = *c.rope_scaling;
  for (double& x : f) {
    const double wavelen = 2 * M_PI / x;
    const double low = s.original_max_position_embeddings / s.low_freq_factor;
    const double high = s.original_max_position_embeddings / s.high_freq_factor;
    const double scaled = wavelen > low ? x / s.factor : x;
    const double smooth = (s.original_max_position_embeddings / wavelen - s.low_freq_factor) /
                          (s.high_freq_factor - s.low_freq_factor);
    const bool medium = !(wavelen < high) && !(wavelen > low);
    x = medium ? (1 - smooth) * scaled / s.factor + smooth * scaled : scaled;
  }
  return f;
}

// x * cos + rotate_half(x) * sin for every head of `v`.
void Rope(Vec& v, int heads, int hd, int pos, const Vec& inv_freq) {
  for (int h = 0; h < heads; ++h) {
    Vec x(v.begin() + h * hd, v.begin() + (h + 1) * hd);
    for (int j = 0; j < hd; ++j) {
      const double angle = pos * inv_freq[j % (hd / 2)];
      const double rot = j < hd / 2 ? -x[j + hd / 2] : x[j - hd / 2];
      v[h * hd + j] = x[j] * std::cos(angle) + rot * std::sin(angle);
    }
  }
}

// Token-by-token forward with a plain KV cache; returns the logits of every position.
std::vector<Vec> ReferenceLogits(const ModelConfig& c, const WeightStore& s,
                                 const std::vector<int32_t>& tokens) {
  const int hd = c.head_dim, group = c.num_heads / c.num_kv_heads;
  const Vec inv_freq = InvFreq(c);
  const Vec embed = Tensor(s, "model.embed_tokens.weight");
  const Vec head = c.tie_word_embeddings ? embed : Tensor(s, "lm_head.weight");
  std::vector<std::vector<Vec>> keys(c.num_layers), values(c.num_layers);
  std::vector<Vec> out;
  for (size_t pos = 0; pos < tokens.size(); ++pos) {
    Vec x(embed.begin() + tokens[pos] * c.hidden_size,
          embed.begin() + (tokens[pos] + 1) * c.hidden_size);
    for (int l = 0; l < c.num_layers; ++l) {
      const std::string p = absl::StrCat("model.layers.", l, ".");
      const Vec xn = RmsNorm(x, Tensor(s, p + "input_layernorm.weight"), c.rms_norm_eps);
      Vec q = Linear(Tensor(s, p + "self_attn.q_proj.weight"), xn,
                     Tensor(s, p + "self_attn.q_proj.bias"));
      Vec k = Linear(Tensor(s, p + "self_attn.k_proj.weight"), xn,
                     Tensor(s, p + "self_attn.k_proj.bias"));
      const Vec v = Linear(Tensor(s, p + "self_attn.v_proj.weight"), xn,
                           Tensor(s, p + "self_attn.v_proj.bias"));
      Rope(q, c.num_heads, hd, pos, inv_freq);
      Rope(k, c.num_kv_heads, hd, pos, inv_freq);
      keys[l].push_back(k);
      values[l].push_back(v);
      Vec attn(c.q_dim(), 0.0);
      for (int h = 0; h < c.num_heads; ++h) {
        const int kvh = h / group;
        Vec w(pos + 1);
        double m = -1e300, sum = 0.0;
        for (size_t j = 0; j <= pos; ++j) {
          double dot = 0.0;
          for (int d = 0; d < hd; ++d) dot += q[h * hd + d] * keys[l][j][kvh * hd + d];
          w[j] = dot / std::sqrt(double(hd));
          m = std::max(m, w[j]);
        }
        for (double& e : w) sum += (e = std::exp(e - m));
        for (size_t j = 0; j <= pos; ++j) {
          for (int d = 0; d < hd; ++d) attn[h * hd + d] += w[j] / sum * values[l][j][kvh * hd + d];
        }
      }
      const Vec o = Linear(Tensor(s, p + "self_attn.o_proj.weight"), attn,
                           Tensor(s, p + "self_attn.o_proj.bias"));
      for (int i = 0; i < c.hidden_size; ++i) x[i] += o[i];
      const Vec xm = RmsNorm(x, Tensor(s, p + "post_attention_layernorm.weight"), c.rms_norm_eps);
      const Vec g = Linear(Tensor(s, p + "mlp.gate_proj.weight"), xm);
      const Vec u = Linear(Tensor(s, p + "mlp.up_proj.weight"), xm);
      Vec act(g.size());
      for (size_t i = 0; i < g.size(); ++i) act[i] = g[i] / (1 + std::exp(-g[i])) * u[i];
      const Vec d = Linear(Tensor(s, p + "mlp.down_proj.weight"), act);
      for (int i = 0; i < c.hidden_size; ++i) x[i] += d[i];
    }
    out.push_back(Linear(head, RmsNorm(x, Tensor(s, "model.norm.weight"), c.rms_norm_eps)));
  }
  return out;
}

struct Variant {
  std::string name;
  void (*edit)(ModelConfig*);
  DType dtype;
  int block_size;
};

void PrintTo(const Variant& v, std::ostream* os) { *os << v.name; }

class CpuBackendReference : public ::testing::TestWithParam<Variant> {};

// Prefill of 6 tokens in two chunks, then 5 decode steps: every sampled row's logits must match
// the reference at its position.
TEST_P(CpuBackendReference, LogitsMatchNaiveDoubleForward) {
  const Variant& v = GetParam();
  auto config = PresetConfig("tiny");
  ASSERT_TRUE(config.ok()) << config.status();
  v.edit(&*config);
  auto store = WeightStore::Dummy(*config, v.dtype, 7);
  ASSERT_TRUE(store.ok()) << store.status();
  CpuBackendOptions options;
  options.num_threads = 2;
  options.block_size = v.block_size;
  options.num_kv_blocks = 32;
  options.parallel_min_flops = 0;
  auto backend = CreateCpuBackend(*config, **store, options);
  ASSERT_TRUE(backend.ok()) << backend.status();

  const std::vector<int32_t> tokens = {1, 77, 300, 5, 511, 42, 8, 9, 200, 13, 400};
  const std::vector<Vec> want = ReferenceLogits(*config, **store, tokens);
  DirectSeq seq;
  seq.prompt.assign(tokens.begin(), tokens.begin() + 6);
  seq.sampling.temperature = 0.0f;
  std::vector<std::vector<StepChunk>> steps = {{{&seq, {1, 77, 300}, false}},
                                                    {{&seq, {5, 511, 42}, true}}};
  for (size_t i = 6; i < tokens.size(); ++i) steps.push_back({{&seq, {tokens[i]}, true}});
  int pos = 2;  // position of the first sampled row
  for (const auto& chunks : steps) {
    StepBatch batch = BuildStep(chunks, v.block_size);
    StepResult result;
    ASSERT_TRUE((*backend)->Execute(batch, &result).ok());
    if (!chunks[0].sample) continue;
    pos += static_cast<int>(chunks[0].tokens.size());
    ASSERT_EQ(result.logits.size(), static_cast<size_t>(config->vocab_size));
    double scale = 1.0;
    for (double x : want[pos]) scale = std::max(scale, std::fabs(x));
    for (int i = 0; i < config->vocab_size; ++i) {
      ASSERT_NEAR(result.logits[i], want[pos][i], 1e-4 * scale)
          << v.name << " pos " << pos << " id " << i;
    }
  }
  EXPECT_EQ(pos, static_cast<int>(tokens.size()) - 1);
}

INSTANTIATE_TEST_SUITE_P(
    Models, CpuBackendReference,
    ::testing::Values(Variant{"tiny_untied_gqa", [](ModelConfig*) {}, DType::kF32, 16},
                      Variant{"qwen2_qkv_bias",
                              [](ModelConfig* c) {
                                c->model_type = "qwen2";
                                c->attention_bias = true;
                              },
                              DType::kF32, 4},
                      Variant{"llama_attention_bias",
                              [](ModelConfig* c) { c->attention_bias = true; }, DType::kF32, 3},
                      Variant{"llama3_rope_scaling",
                              [](ModelConfig* c) {
                                c->rope_theta = 500000.0;
                                c->rope_scaling = RopeScaling{"llama3", 8.0, 1.0, 4.0, 64};
                              },
                              DType::kBF16, 16},
                      Variant{"mqa_tied_f16",
                              [](ModelConfig* c) {
                                c->num_kv_heads = 1;
                                c->tie_word_embeddings = true;
                              },
                              DType::kF16, 5}),
    [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace corvid
