#include "engine/cuda/model_runner.h"

#include <cmath>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/cpu_ops.h"
#include "engine/cuda/cuda_check.h"
#include "kernels/elementwise.h"
#include "kernels/paged_attention.h"
#include "kernels/rope_kv.h"

namespace corvid::cuda {

ModelRunner::ModelRunner(const ModelConfig& config, DeviceWeights weights, GemmDispatcher* gemm,
                         cudaStream_t stream, const RunnerShape& shape)
    : config_(config),
      weights_(std::move(weights)),
      gemm_(gemm),
      stream_(stream),
      shape_(shape),
      kdtype_(weights_.dtype == DType::kF16 ? kernels::DataType::kF16
                                            : kernels::DataType::kBF16) {}

absl::StatusOr<std::unique_ptr<ModelRunner>> ModelRunner::Create(const ModelConfig& config,
                                                                 DeviceWeights weights,
                                                                 GemmDispatcher* gemm,
                                                                 cudaStream_t stream,
                                                                 const RunnerShape& shape) {
  const int group = config.num_kv_heads > 0 ? config.num_heads / config.num_kv_heads : 0;
  if (group < 1 || config.num_heads % config.num_kv_heads != 0 ||
      !kernels::DecodeAttentionSupports(config.head_dim, group)) {
    return absl::UnimplementedError(absl::StrCat("CUDA attention: head_dim ", config.head_dim,
                                                 " with ", config.num_heads, "/",
                                                 config.num_kv_heads, " heads"));
  }
  std::unique_ptr<ModelRunner> r(new ModelRunner(config, std::move(weights), gemm, stream, shape));
  r->prefill_kernel_ = kernels::PrefillAttentionSupports(config.head_dim);
  ASSIGN_OR_RETURN(r->warmer_, L2Warmer::Create());
  RETURN_IF_ERROR(r->AllocateActivations());
  return r;
}

absl::Status ModelRunner::AllocateActivations() {
  const ModelConfig& c = config_;
  const size_t t = shape_.max_tokens, h = c.hidden_size;
  const size_t qkv = c.q_dim() + 2 * c.kv_dim();
  int64_t total = 0;
  auto alloc = [&total](DeviceBuffer* buf, size_t bytes) -> absl::Status {
    ASSIGN_OR_RETURN(*buf, DeviceBuffer::Allocate(bytes));
    total += static_cast<int64_t>(bytes);
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(alloc(&residual_, t * h * 4));
  RETURN_IF_ERROR(alloc(&normed_, t * h * 2));
  RETURN_IF_ERROR(alloc(&qkv_, t * qkv * 2));
  RETURN_IF_ERROR(alloc(&q_, t * c.q_dim() * 2));
  RETURN_IF_ERROR(alloc(&attn_, t * c.q_dim() * 2));
  RETURN_IF_ERROR(alloc(&proj_, t * h * 2));
  RETURN_IF_ERROR(alloc(&gate_up_, t * 2 * c.intermediate_size * 2));
  RETURN_IF_ERROR(alloc(&act_, t * weights_.inter_padded * 2));
  // The padding columns of act_ feed the padded down_proj rows: they must read as zero.
  CUDA_RETURN_IF_ERROR(cudaMemset(act_.data(), 0, act_.size()));
  RETURN_IF_ERROR(alloc(&logits_, static_cast<size_t>(shape_.max_seqs) * c.vocab_size * 4));
  // Decode-kernel rows: one per sequence, or one per query token for the fallback prefill.
  partial_rows_ = prefill_kernel_ ? shape_.max_seqs : shape_.max_tokens;
  if (shape_.split_cap > 1) {
    RETURN_IF_ERROR(alloc(&partial_out_, 4 * kernels::DecodePartialOutFloats(
                                                  partial_rows_, c.num_heads, shape_.split_cap,
                                                  c.head_dim)));
    RETURN_IF_ERROR(alloc(&partial_ml_, 4 * kernels::DecodePartialMlFloats(
                                                 partial_rows_, c.num_heads, shape_.split_cap)));
    // Arrival counters of the fused split merge: zero now, and every launch leaves them zero.
    RETURN_IF_ERROR(alloc(&split_counters_, 4 * static_cast<size_t>(partial_rows_) * c.num_kv_heads));
    CUDA_RETURN_IF_ERROR(cudaMemset(split_counters_.data(), 0, split_counters_.size()));
  }
  std::vector<float> inv_freq;
  for (double f : RopeInvFreq(c)) inv_freq.push_back(static_cast<float>(f));
  RETURN_IF_ERROR(alloc(&inv_freq_, inv_freq.size() * 4));
  CUDA_RETURN_IF_ERROR(cudaMemcpy(inv_freq_.data(), inv_freq.data(), inv_freq.size() * 4,
                                  cudaMemcpyHostToDevice));
  activation_bytes_ = total;
  return absl::OkStatus();
}

int64_t ModelRunner::KvBlockBytes() const {
  return int64_t{2} * config_.num_layers * config_.num_kv_heads * shape_.block_size *
         config_.head_dim * 2;
}

absl::Status ModelRunner::AllocateKv(int num_blocks) {
  if (num_blocks < 1) return absl::ResourceExhaustedError("no GPU memory left for the KV cache");
  ASSIGN_OR_RETURN(kv_, DeviceBuffer::Allocate(static_cast<size_t>(KvBlockBytes()) * num_blocks));
  num_blocks_ = num_blocks;
  return absl::OkStatus();
}

void* ModelRunner::KCache(int l) const {
  const size_t layer = static_cast<size_t>(KvBlockBytes() / config_.num_layers / 2) * num_blocks_;
  return kv_.as<char>() + (2 * static_cast<size_t>(l)) * layer;
}

void* ModelRunner::VCache(int l) const {
  const size_t layer = static_cast<size_t>(KvBlockBytes() / config_.num_layers / 2) * num_blocks_;
  return kv_.as<char>() + (2 * static_cast<size_t>(l) + 1) * layer;
}

namespace {

// Diagnosis only (docs/cuda.md): CORVID_SKIP_KERNELS=norm,qkv,attn,o,gate_up,silu,down leaves
// those launches out of every layer, so that a step's time without them gives their cost
// inside the step (overlaps included), which timing each kernel alone cannot. The outputs are
// then garbage; never set it outside a benchmark.
bool Skips(const char* what) {
  static const std::string env = [] {
    const char* v = std::getenv("CORVID_SKIP_KERNELS");
    return v != nullptr ? "," + std::string(v) + "," : std::string();
  }();
  return !env.empty() && env.find("," + std::string(what) + ",") != std::string::npos;
}

// Pure decode steps (every attention row a single query token, no prefill tiles) leave the
// RoPE and the newest key's KV write to the decode-attention launch (paged_attention.h,
// rope_qkv): one launch and one round trip less per layer. Steps with prefill tiles keep the
// separate RopeKv kernel for all their tokens.
bool FusesRope(const ForwardPlan& plan, bool prefill_kernel, const ModelConfig& c) {
  return prefill_kernel && plan.num_rows > 0 && plan.num_tiles == 0 &&
         kernels::DecodeAttentionFusesRope(c.head_dim, c.num_heads / c.num_kv_heads);
}

}  // namespace

absl::Status ModelRunner::Attention(int l, const ForwardPlan& plan, const StepArrays& a) {
  const ModelConfig& c = config_;
  const kernels::PagedKvView kv{KCache(l), VCache(l), a.block_indptr, a.block_ids,
                                c.num_kv_heads, shape_.block_size};
  const float scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  if (plan.num_rows > 0) {
    if (plan.num_rows > partial_rows_ || plan.max_splits > shape_.split_cap) {
      return absl::InternalError("decode-attention rows exceed the partial buffers");
    }
    kernels::DecodeAttentionParams p;
    p.q = q_.data();
    p.out = attn_.data();
    p.kv = kv;
    if (plan.rows_are_tokens) {
      p.row_ctx = a.ctx_len;
    } else {
      p.row_token = a.row_token;
      p.row_seq = a.row_seq;
      p.row_ctx = a.row_ctx;
    }
    p.split_tokens = shape_.split_cap > 1 ? shape_.split_tokens : 0;
    p.split_cap = shape_.split_cap;
    p.max_splits = plan.max_splits;
    p.partial_out = partial_out_.as<float>();
    p.partial_ml = partial_ml_.as<float>();
    p.split_counters = split_counters_.as<int>();
    // Rows of the tensor-core kernel are single query tokens (prefills have their own kernel),
    // so the RoPE/KV write before it touches only each row's newest key.
    p.prefetch_kv = prefill_kernel_ ? 1 : 0;
    if (FusesRope(plan, prefill_kernel_, c)) {
      p.rope_qkv = qkv_.data();
      p.rope_bias = weights_.layers[l].qkv_bias;
      p.rope_inv_freq = inv_freq_.as<float>();
    }
    p.num_rows = plan.num_rows;
    p.num_heads = c.num_heads;
    p.head_dim = c.head_dim;
    p.scale = scale;
    KERNEL_RETURN_IF_ERROR(kernels::LaunchDecodeAttention(kdtype_, p, stream_));
  }
  if (plan.num_tiles > 0) {
    kernels::PrefillAttentionParams p;
    p.q = q_.data();
    p.out = attn_.data();
    p.kv = kv;
    p.qo_indptr = a.qo_indptr;
    p.ctx_len = a.ctx_len;
    p.tiles = a.tiles;
    p.num_tiles = plan.num_tiles;
    p.num_heads = c.num_heads;
    p.head_dim = c.head_dim;
    p.scale = scale;
    KERNEL_RETURN_IF_ERROR(kernels::LaunchPrefillAttention(kdtype_, p, stream_));
  }
  return absl::OkStatus();
}

absl::Status ModelRunner::Layer(int l, const ForwardPlan& plan, const StepArrays& a) {
  const ModelConfig& c = config_;
  const DeviceLayerWeights& w = weights_.layers[l];
  const int t = plan.num_tokens, h = c.hidden_size, qd = c.q_dim();
  const int qkv_dim = qd + 2 * c.kv_dim(), inter = c.intermediate_size;
  const int ip = weights_.inter_padded;
  const float eps = static_cast<float>(c.rms_norm_eps);
  // Decode-sized steps may warm L2 with weights while latency-bound kernels run (l2_warmer.h).
  const bool head = warmer_->WarmsHeads(t), whole = warmer_->WarmsWhole(t);
  if (head) RETURN_IF_ERROR(warmer_->ForkHead(stream_, w.qkv, qkv_dim, h));
  if (!Skips("norm")) {
    KERNEL_RETURN_IF_ERROR(kernels::LaunchAddRmsNorm(kdtype_, residual_.as<float>(),
                                                     l == 0 ? nullptr : proj_.data(),
                                                     w.input_norm, nullptr, t, h, eps,
                                                     normed_.data(), stream_));
  }
  RETURN_IF_ERROR(warmer_->Join(stream_));
  if (!Skips("qkv")) {
    RETURN_IF_ERROR(gemm_->Run(normed_.data(), h, w.qkv, h, qkv_.data(), false, t, qkv_dim, h));
  }
  if (whole) RETURN_IF_ERROR(warmer_->ForkWhole(stream_, w.o, size_t{2} * h * qd));
  kernels::RopeKvParams rp;
  rp.qkv = qkv_.data();
  rp.bias = w.qkv_bias;
  rp.positions = a.positions;
  rp.slot_mapping = a.slots;
  rp.inv_freq = inv_freq_.as<float>();
  rp.q_out = q_.data();
  rp.k_cache = KCache(l);
  rp.v_cache = VCache(l);
  rp.num_tokens = t;
  rp.num_heads = c.num_heads;
  rp.num_kv_heads = c.num_kv_heads;
  rp.head_dim = c.head_dim;
  rp.block_size = shape_.block_size;
  if (!FusesRope(plan, prefill_kernel_, c)) {
    KERNEL_RETURN_IF_ERROR(kernels::LaunchRopeKv(kdtype_, rp, stream_));
  }
  if (!Skips("attn")) RETURN_IF_ERROR(Attention(l, plan, a));
  RETURN_IF_ERROR(warmer_->Join(stream_));
  if (!Skips("o")) {
    RETURN_IF_ERROR(gemm_->Run(attn_.data(), qd, w.o, qd, proj_.data(), false, t, h, qd));
  }
  if (head) RETURN_IF_ERROR(warmer_->ForkHead(stream_, w.gate_up, 2 * inter, h));
  if (!Skips("norm")) {
    KERNEL_RETURN_IF_ERROR(kernels::LaunchAddRmsNorm(kdtype_, residual_.as<float>(),
                                                     proj_.data(), w.post_norm, nullptr, t, h,
                                                     eps, normed_.data(), stream_));
  }
  RETURN_IF_ERROR(warmer_->Join(stream_));
  if (!Skips("gate_up")) {
    RETURN_IF_ERROR(
        gemm_->Run(normed_.data(), h, w.gate_up, h, gate_up_.data(), false, t, 2 * inter, h));
  }
  if (head) RETURN_IF_ERROR(warmer_->ForkHead(stream_, w.down, h, ip));
  if (!Skips("silu")) {
    KERNEL_RETURN_IF_ERROR(
        kernels::LaunchSiluMul(kdtype_, gate_up_.data(), t, inter, act_.data(), ip, stream_));
  }
  RETURN_IF_ERROR(warmer_->Join(stream_));
  if (!Skips("down")) {
    RETURN_IF_ERROR(gemm_->Run(act_.data(), ip, w.down, ip, proj_.data(), false, t, h, ip));
  }
  return absl::OkStatus();
}

absl::Status ModelRunner::Forward(const ForwardPlan& plan, const StepArrays& a) {
  const ModelConfig& c = config_;
  if (plan.num_tokens > shape_.max_tokens || plan.num_logit_rows > shape_.max_seqs) {
    return absl::InternalError("step exceeds the activation buffers");
  }
  if (num_blocks_ == 0) return absl::FailedPreconditionError("KV cache not allocated");
  KERNEL_RETURN_IF_ERROR(kernels::LaunchEmbedding(kdtype_, a.token_ids, weights_.embed,
                                                  c.vocab_size, c.hidden_size, plan.num_tokens,
                                                  residual_.as<float>(), stream_));
  for (int l = 0; l < c.num_layers; ++l) RETURN_IF_ERROR(Layer(l, plan, a));
  KERNEL_RETURN_IF_ERROR(kernels::LaunchAddRmsNorm(
      kdtype_, residual_.as<float>(), proj_.data(), weights_.final_norm,
      plan.gather_logit_rows ? a.sample_rows : nullptr, plan.num_logit_rows, c.hidden_size,
      static_cast<float>(c.rms_norm_eps), normed_.data(), stream_));
  return gemm_->Run(normed_.data(), c.hidden_size, weights_.lm_head, c.hidden_size,
                    logits_.data(), true, plan.num_logit_rows, c.vocab_size, c.hidden_size);
}

}  // namespace corvid::cuda
