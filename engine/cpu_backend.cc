#include "engine/cpu_backend.h"

#include <cmath>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/cpu_attention.h"
#include "engine/cpu_matmul.h"
#include "engine/cpu_ops.h"
#include "engine/cpu_parallel.h"
#include "engine/cpu_weights.h"
#include "engine/sampler.h"
#include "engine/status_macros.h"
#include "engine/step_batch_check.h"

namespace corvid {
namespace {

// Activations of one step, kept between steps so that a steady load allocates nothing.
struct StepScratch {
  std::vector<float> x, xn, qkv, attn, gate_up, mlp, rope_cos, rope_sin, head_in, logits;
  std::vector<TokenKv> tokens;
  std::vector<int32_t> sample_rows;  // token row of each sampled sequence
  std::vector<int32_t> sample_seqs;  // its index in batch.seqs
};

template <typename T>
void Grow(std::vector<T>& v, size_t n) {
  if (v.size() < n) v.resize(n);
}

MatMulArgs Linear(const float* x, int t, const PackedMatrix& w, const float* bias, float* y,
                  bool accumulate) {
  MatMulArgs a;
  a.x = x;
  a.ldx = w.k;
  a.num_tokens = t;
  a.w = w;
  a.bias = bias;
  a.y = y;
  a.ldy = w.rows;
  a.accumulate = accumulate;
  return a;
}

class CpuBackend : public Backend {
 public:
  CpuBackend(const ModelConfig& config, CpuWeights weights, AlignedFloats kv,
             KvCacheGeometry geometry, int num_threads)
      : config_(config),
        w_(std::move(weights)),
        kv_(std::move(kv)),
        geometry_(geometry),
        team_(num_threads),
        inv_freq_(RopeInvFreq(config)),
        scale_(static_cast<float>(1.0 / std::sqrt(static_cast<double>(config.head_dim)))) {
    const int64_t per_cache = int64_t{geometry.num_blocks} * geometry.block_size * config.kv_dim();
    for (int l = 0; l < config.num_layers; ++l) {
      float* k = kv_.data() + 2 * l * per_cache;
      kv_layers_.push_back(PagedKvLayer{k, k + per_cache, geometry.block_size, config.num_kv_heads,
                                        config.head_dim});
    }
  }

  std::string Name() const override { return "cpu"; }
  const ModelConfig& config() const override { return config_; }
  KvCacheGeometry kv_geometry() const override { return geometry_; }
  int64_t weight_bytes_per_step() const { return w_.bytes_per_token_step; }

  absl::Status Execute(const StepBatch& batch, StepResult* result) override {
    RETURN_IF_ERROR(CheckStepBatch(batch, config_, geometry_));
    result->tokens.clear();
    result->logits.clear();
    if (batch.token_ids.empty()) return absl::OkStatus();
    Prepare(batch);
    const int num_tokens = static_cast<int>(batch.token_ids.size());
    const int num_sampled = static_cast<int>(s_.sample_rows.size());
    result->tokens.resize(num_sampled);
    team_.Run([&] {
      if (w_.embed != nullptr) {
        GatherRows(w_.embed, batch.token_ids.data(), num_tokens, config_.hidden_size, s_.x.data());
      } else {
        GatherPackedRows(w_.lm_head, batch.token_ids.data(), num_tokens, s_.x.data());
      }
      for (int l = 0; l < config_.num_layers; ++l) Layer(l, num_tokens);
      Head(batch, result);
    });
    result->logits.clear();
    if (batch.return_logits) {
      result->logits.assign(s_.logits.begin(),
                            s_.logits.begin() + int64_t{num_sampled} * config_.vocab_size);
    }
    return absl::OkStatus();
  }

 private:
  // Serial set-up before the team starts: buffer sizes, per-token cache views, RoPE angles.
  void Prepare(const StepBatch& batch) {
    const ModelConfig& c = config_;
    const size_t t = batch.token_ids.size();
    const int qkv_dim = c.q_dim() + 2 * c.kv_dim();
    Grow(s_.x, t * c.hidden_size);
    Grow(s_.xn, t * c.hidden_size);
    Grow(s_.qkv, t * qkv_dim);
    Grow(s_.attn, t * c.q_dim());
    Grow(s_.gate_up, t * 2 * c.intermediate_size);
    Grow(s_.mlp, t * c.intermediate_size);
    Grow(s_.rope_cos, t * (c.head_dim / 2));
    Grow(s_.rope_sin, t * (c.head_dim / 2));
    Grow(s_.tokens, t);
    s_.sample_rows.clear();
    s_.sample_seqs.clear();
    int row = 0;
    for (size_t i = 0; i < batch.seqs.size(); ++i) {
      const StepSequence& seq = batch.seqs[i];
      const int32_t* table = batch.block_ids.data() + batch.block_indptr[i];
      for (int j = 0; j < seq.num_query_tokens; ++j, ++row) {
        s_.tokens[row] = TokenKv{table, batch.positions[row]};
      }
      if (seq.sample) {
        s_.sample_rows.push_back(row - 1);
        s_.sample_seqs.push_back(static_cast<int32_t>(i));
      }
    }
    const size_t num_sampled = s_.sample_rows.size();
    Grow(s_.head_in, num_sampled * c.hidden_size);
    Grow(s_.logits, num_sampled * c.vocab_size);
    RopeTable(inv_freq_, batch.positions.data(), static_cast<int>(t), s_.rope_cos.data(),
              s_.rope_sin.data());
  }

  // One decoder layer on every token; run by every thread of the team.
  void Layer(int l, int t) {
    const ModelConfig& c = config_;
    const CpuLayerWeights& w = w_.layers[l];
    const int h = c.hidden_size, q = c.q_dim(), kv = c.kv_dim(), qkv = q + 2 * kv;
    RmsNorm(s_.x.data(), w.attn_norm, t, h, c.rms_norm_eps, s_.xn.data());
    MatMul(Linear(s_.xn.data(), t, w.qkv, w.qkv_bias, s_.qkv.data(), false));
    // One pass per token: rotate its q and k heads (adjacent in a qkv row), then cache k and v.
    const int half = c.head_dim / 2;
    ParallelForStatic(t, [&](int i) {
      float* row = s_.qkv.data() + int64_t{i} * qkv;
      RopeRow(row, c.num_heads + c.num_kv_heads, c.head_dim, s_.rope_cos.data() + i * half,
              s_.rope_sin.data() + i * half);
      WriteKvRow(kv_layers_[l], s_.tokens[i], row + q, row + q + kv);
    });
    AttentionArgs a{s_.qkv.data(),  qkv, c.num_heads, &kv_layers_[l], s_.tokens.data(), t, scale_,
                    s_.attn.data(), q};
    Attention(a);
    MatMul(Linear(s_.attn.data(), t, w.o, w.o_bias, s_.x.data(), true));
    RmsNorm(s_.x.data(), w.mlp_norm, t, h, c.rms_norm_eps, s_.xn.data());
    MatMul(Linear(s_.xn.data(), t, w.gate_up, nullptr, s_.gate_up.data(), false));
    SiluMul(s_.gate_up.data(), t, c.intermediate_size, s_.mlp.data());
    MatMul(Linear(s_.mlp.data(), t, w.down, nullptr, s_.x.data(), true));
  }

  // Final norm and lm_head on the sampled rows only, then one token per sampled sequence.
  void Head(const StepBatch& batch, StepResult* result) {
    const ModelConfig& c = config_;
    const int n = static_cast<int>(s_.sample_rows.size());
    if (n == 0) return;
    GatherRows(s_.x.data(), s_.sample_rows.data(), n, c.hidden_size, s_.head_in.data());
    RmsNorm(s_.head_in.data(), w_.final_norm, n, c.hidden_size, c.rms_norm_eps, s_.head_in.data());
    MatMul(Linear(s_.head_in.data(), n, w_.lm_head, nullptr, s_.logits.data(), false));
    ParallelFor(n, [&](int j) {
      const StepSequence& seq = batch.seqs[s_.sample_seqs[j]];
      result->tokens[j] = SampleToken(s_.logits.data() + int64_t{j} * c.vocab_size, c.vocab_size,
                                      *seq.sampling, *seq.prompt, *seq.output);
    });
  }

  const ModelConfig config_;
  const CpuWeights w_;
  AlignedFloats kv_;
  const KvCacheGeometry geometry_;
  ThreadTeam team_;
  const std::vector<double> inv_freq_;
  const float scale_;
  std::vector<PagedKvLayer> kv_layers_;
  StepScratch s_;
};

absl::Status CheckOptions(const ModelConfig& c, const CpuBackendOptions& o) {
  if (o.block_size < 1) return absl::InvalidArgumentError("block_size must be >= 1");
  if (o.num_kv_blocks < 0) return absl::InvalidArgumentError("num_kv_blocks must be >= 0");
  if (c.num_kv_heads < 1 || c.num_heads % c.num_kv_heads != 0 ||
      c.num_heads / c.num_kv_heads > 256 || c.head_dim < 2 || c.head_dim % 2 != 0) {
    return absl::InvalidArgumentError(absl::StrCat("unsupported attention shape: ", c.num_heads,
                                                   " heads, ", c.num_kv_heads,
                                                   " KV heads, head_dim ", c.head_dim));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Backend>> CreateCpuBackend(const ModelConfig& config,
                                                          const WeightStore& weights,
                                                          const CpuBackendOptions& options) {
  RETURN_IF_ERROR(CheckOptions(config, options));
  ASSIGN_OR_RETURN(CpuWeights w, LoadCpuWeights(config, weights));
  KvCacheGeometry geometry;
  geometry.block_size = options.block_size;
  const int64_t floats_per_block =
      int64_t{2} * config.num_layers * options.block_size * config.kv_dim();
  geometry.num_blocks = options.num_kv_blocks > 0
                            ? options.num_kv_blocks
                            : static_cast<int>(options.kv_cache_bytes / (4 * floats_per_block));
  if (geometry.num_blocks < 1) {
    return absl::InvalidArgumentError(absl::StrCat("kv_cache_bytes ", options.kv_cache_bytes,
                                                   " holds no block of ", 4 * floats_per_block,
                                                   " bytes"));
  }
  ASSIGN_OR_RETURN(AlignedFloats kv,
                   AlignedFloats::Allocate(floats_per_block * geometry.num_blocks));
  return std::unique_ptr<Backend>(new CpuBackend(config, std::move(w), std::move(kv), geometry,
                                                 ResolveNumThreads(options.num_threads)));
}

int64_t CpuBackendWeightBytesPerStep(const Backend& backend) {
  const auto* cpu = dynamic_cast<const CpuBackend*>(&backend);
  return cpu == nullptr ? -1 : cpu->weight_bytes_per_step();
}

}  // namespace corvid
