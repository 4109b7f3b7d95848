#include "tools/bench/attention_bench.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <numeric>
#include <random>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/device_memory.h"
#include "engine/cuda/model_runner.h"
#include "kernels/elementwise.h"
#include "kernels/paged_attention.h"
#include "kernels/prefill_variants.h"
#include "kernels/rope_kv.h"

namespace corvid::bench {
namespace {

constexpr int kHeads = 32, kKvHeads = 8, kHeadDim = 128, kBlock = 16;
constexpr kernels::DataType kType = kernels::DataType::kBF16;
// The CUDA backend's split length, so that the decode rows time what the engine runs.
const int kEngineSplitTokens = cuda::RunnerShape{}.split_tokens;

struct Setup {
  cuda::DeviceBuffer k, v, q, out, indptr, ids, qo, ctx, tiles, partial, ml, counters;
  std::vector<int32_t> h_tiles, h_ids;
};

absl::Status Upload(cuda::DeviceBuffer* buf, const std::vector<int32_t>& v) {
  ASSIGN_OR_RETURN(*buf, cuda::DeviceBuffer::Allocate(std::max<size_t>(v.size(), 1) * 4));
  CUDA_RETURN_IF_ERROR(cudaMemcpy(buf->data(), v.data(), v.size() * 4, cudaMemcpyHostToDevice));
  return absl::OkStatus();
}

// Sequences of `len` keys in shuffled blocks, random K/V/Q; `q_rows` query rows in total;
// prefill query tiles of `tile` queries.
absl::Status Prepare(int batch, int len, int q_rows, bool prefill, int tile, Setup* s) {
  const int per = (len + kBlock - 1) / kBlock, blocks = per * batch;
  std::vector<int32_t> ids(blocks), indptr = {0}, qo = {0}, ctx;
  std::iota(ids.begin(), ids.end(), 0);
  std::shuffle(ids.begin(), ids.end(), std::mt19937(1));
  for (int b = 0; b < batch; ++b) {
    indptr.push_back((b + 1) * per);
    qo.push_back(qo.back() + (prefill ? len : 1));
    ctx.push_back(len);
    for (int q0 = 0; prefill && q0 < len; q0 += tile) {
      s->h_tiles.push_back(b);
      s->h_tiles.push_back(q0);
    }
  }
  const size_t kv_elems = size_t(blocks) * kKvHeads * kBlock * kHeadDim;
  const size_t q_elems = size_t(q_rows) * kHeads * kHeadDim;
  ASSIGN_OR_RETURN(s->k, cuda::DeviceBuffer::Allocate(kv_elems * 2));
  ASSIGN_OR_RETURN(s->v, cuda::DeviceBuffer::Allocate(kv_elems * 2));
  ASSIGN_OR_RETURN(s->q, cuda::DeviceBuffer::Allocate(q_elems * 2));
  ASSIGN_OR_RETURN(s->out, cuda::DeviceBuffer::Allocate(q_elems * 2));
  KERNEL_RETURN_IF_ERROR(kernels::LaunchRandomFill(kType, s->k.data(), kv_elems, 1, 1, 0, nullptr));
  KERNEL_RETURN_IF_ERROR(kernels::LaunchRandomFill(kType, s->v.data(), kv_elems, 2, 1, 0, nullptr));
  KERNEL_RETURN_IF_ERROR(kernels::LaunchRandomFill(kType, s->q.data(), q_elems, 3, 1, 0, nullptr));
  RETURN_IF_ERROR(Upload(&s->indptr, indptr));
  RETURN_IF_ERROR(Upload(&s->ids, ids));
  s->h_ids = ids;
  RETURN_IF_ERROR(Upload(&s->qo, qo));
  RETURN_IF_ERROR(Upload(&s->ctx, ctx));
  RETURN_IF_ERROR(Upload(&s->tiles, s->h_tiles));
  const int cap = 16;
  ASSIGN_OR_RETURN(s->partial, cuda::DeviceBuffer::Allocate(
                                   4 * kernels::DecodePartialOutFloats(q_rows, kHeads, cap, kHeadDim)));
  ASSIGN_OR_RETURN(s->ml, cuda::DeviceBuffer::Allocate(
                              4 * kernels::DecodePartialMlFloats(q_rows, kHeads, cap)));
  ASSIGN_OR_RETURN(s->counters, cuda::DeviceBuffer::Allocate(size_t(q_rows) * kKvHeads * 4));
  CUDA_RETURN_IF_ERROR(cudaMemset(s->counters.data(), 0, s->counters.size()));
  return absl::OkStatus();
}

template <typename Fn>
absl::StatusOr<double> MedianMicros(Fn launch) {
  cudaEvent_t a, b;
  CUDA_RETURN_IF_ERROR(cudaEventCreate(&a));
  CUDA_RETURN_IF_ERROR(cudaEventCreate(&b));
  for (int i = 0; i < 3; ++i) KERNEL_RETURN_IF_ERROR(launch());
  std::vector<double> t;
  for (int i = 0; i < 30; ++i) {
    cudaEventRecord(a);
    KERNEL_RETURN_IF_ERROR(launch());
    cudaEventRecord(b);
    CUDA_RETURN_IF_ERROR(cudaEventSynchronize(b));
    float ms = 0;
    cudaEventElapsedTime(&ms, a, b);
    t.push_back(ms * 1000.0);
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// Times prefill variant `variant` (-1: the backend's LaunchPrefillAttention) on case `c`.
absl::StatusOr<double> TimePrefill(const AttentionCase& c, int variant) {
  const int tile =
      variant < 0 ? kernels::kPrefillTileQueries : kernels::PrefillVariantTileQueries(variant);
  Setup s;
  RETURN_IF_ERROR(Prepare(c.batch, c.len, c.batch * c.len, true, tile, &s));
  kernels::PrefillAttentionParams p;
  p.q = s.q.data();
  p.out = s.out.data();
  p.kv = {s.k.data(), s.v.data(), s.indptr.as<int32_t>(), s.ids.as<int32_t>(), kKvHeads, kBlock};
  p.qo_indptr = s.qo.as<int32_t>();
  p.ctx_len = s.ctx.as<int32_t>();
  p.tiles = s.tiles.as<int32_t>();
  p.num_tiles = static_cast<int>(s.h_tiles.size() / 2);
  p.num_heads = kHeads;
  p.head_dim = kHeadDim;
  p.scale = 1.0f / std::sqrt(float(kHeadDim));
  return MedianMicros([&] {
    return variant < 0 ? kernels::LaunchPrefillAttention(kType, p, nullptr)
                       : kernels::LaunchPrefillAttentionVariant(variant, kType, p, nullptr);
  });
}

// What a decode case times: the attention launch alone; the RoPE/KV kernel and the attention
// launch after it (the engine's decode layer before s5-attn); or the attention launch with the
// RoPE/KV write fused in (the engine's decode layer now, when DecodeAttentionFusesRope).
enum class DecodeMode { kAttention, kRopeThenAttention, kFused };

// The QKV rows, positions, slots and frequencies the RoPE/KV write of a decode case reads.
struct RopeInputs {
  cuda::DeviceBuffer qkv, pos, slots, freq;
};

absl::Status PrepareRope(int batch, int len, const Setup& s, RopeInputs* r) {
  const size_t qkv = size_t(batch) * (kHeads + 2 * kKvHeads) * kHeadDim;
  ASSIGN_OR_RETURN(r->qkv, cuda::DeviceBuffer::Allocate(qkv * 2));
  KERNEL_RETURN_IF_ERROR(kernels::LaunchRandomFill(kType, r->qkv.data(), qkv, 4, 1, 0, nullptr));
  const int per = (len + kBlock - 1) / kBlock, newest = len - 1;
  std::vector<int32_t> pos(batch, newest), slots;
  for (int b = 0; b < batch; ++b) {
    slots.push_back(s.h_ids[b * per + newest / kBlock] * kBlock + newest % kBlock);
  }
  RETURN_IF_ERROR(Upload(&r->pos, pos));
  RETURN_IF_ERROR(Upload(&r->slots, slots));
  std::vector<float> freq;
  for (int i = 0; i < kHeadDim / 2; ++i) freq.push_back(std::pow(500000.0f, -2.0f * i / kHeadDim));
  ASSIGN_OR_RETURN(r->freq, cuda::DeviceBuffer::Allocate(freq.size() * 4));
  CUDA_RETURN_IF_ERROR(
      cudaMemcpy(r->freq.data(), freq.data(), freq.size() * 4, cudaMemcpyHostToDevice));
  return absl::OkStatus();
}

kernels::RopeKvParams RopeParams(const Setup& s, const RopeInputs& r, int batch) {
  kernels::RopeKvParams rp;
  rp.qkv = r.qkv.data();
  rp.positions = r.pos.as<int32_t>();
  rp.slot_mapping = r.slots.as<int32_t>();
  rp.inv_freq = r.freq.as<float>();
  rp.q_out = s.q.data();
  rp.k_cache = s.k.data();
  rp.v_cache = s.v.data();
  rp.num_tokens = batch;
  rp.num_heads = kHeads;
  rp.num_kv_heads = kKvHeads;
  rp.head_dim = kHeadDim;
  rp.block_size = kBlock;
  return rp;
}

absl::Status TimeDecode(AttentionCase* c, int split_tokens,
                        DecodeMode mode = DecodeMode::kAttention) {
  Setup s;
  RETURN_IF_ERROR(Prepare(c->batch, c->len, c->batch, false, 1, &s));
  RopeInputs rope;
  if (mode != DecodeMode::kAttention) RETURN_IF_ERROR(PrepareRope(c->batch, c->len, s, &rope));
  const kernels::RopeKvParams rp = RopeParams(s, rope, c->batch);
  kernels::DecodeAttentionParams p;
  p.q = s.q.data();
  p.out = s.out.data();
  p.kv = {s.k.data(), s.v.data(), s.indptr.as<int32_t>(), s.ids.as<int32_t>(), kKvHeads, kBlock};
  p.row_ctx = s.ctx.as<int32_t>();
  p.split_tokens = split_tokens;
  p.split_cap = 16;
  p.max_splits = kernels::DecodeSplits(c->len, split_tokens, 16);
  p.partial_out = s.partial.as<float>();
  p.partial_ml = s.ml.as<float>();
  // As the engine runs it: splits merged inside the launch, older keys read before the wait
  // (CORVID_BENCH_DECODE_COMBINE=1: the separate merge kernel, as figures before s4-attn).
  const char* combine = std::getenv("CORVID_BENCH_DECODE_COMBINE");
  if (combine == nullptr || std::string(combine) != "1") {
    p.split_counters = s.counters.as<int>();
    p.prefetch_kv = 1;
  }
  p.num_rows = c->batch;
  p.num_heads = kHeads;
  p.head_dim = kHeadDim;
  p.scale = 1.0f / std::sqrt(float(kHeadDim));
  if (mode == DecodeMode::kFused) {
    p.rope_qkv = rope.qkv.data();
    p.rope_inv_freq = rope.freq.as<float>();
  }
  ASSIGN_OR_RETURN(c->micros, MedianMicros([&] {
                     if (mode == DecodeMode::kRopeThenAttention) {
                       const kernels::KernelError err = kernels::LaunchRopeKv(kType, rp, nullptr);
                       if (err != kernels::kKernelOk) return err;
                     }
                     return kernels::LaunchDecodeAttention(kType, p, nullptr);
                   }));
  return absl::OkStatus();
}

}  // namespace

std::vector<AttentionCase> DefaultAttentionCases() {
  return {{"prefill", 1, 512}, {"prefill", 4, 2048}, {"prefill", 1, 8192},
          {"decode", 1, 640},  {"decode", 32, 640},  {"decode", 128, 640},
          {"decode", 8, 8192}};
}

absl::Status TimeAttention(std::vector<AttentionCase>* cases) {
  for (AttentionCase& c : *cases) {
    if (c.kind == "prefill") {
      ASSIGN_OR_RETURN(c.micros, TimePrefill(c, -1));
    } else {
      RETURN_IF_ERROR(TimeDecode(&c, kEngineSplitTokens));
    }
  }
  // The decode layer's RoPE/KV write and attention, unfused (two launches) and fused (one):
  // kinds "decode/ropekv" and "decode/fused".
  std::vector<AttentionCase> rope_cases;
  for (const AttentionCase& c : *cases) {
    if (c.kind != "decode") continue;
    AttentionCase two = c, one = c;
    two.kind = "decode/ropekv";
    RETURN_IF_ERROR(TimeDecode(&two, kEngineSplitTokens, DecodeMode::kRopeThenAttention));
    rope_cases.push_back(two);
    if (!kernels::DecodeAttentionFusesRope(kHeadDim, kHeads / kKvHeads)) continue;
    one.kind = "decode/fused";
    RETURN_IF_ERROR(TimeDecode(&one, kEngineSplitTokens, DecodeMode::kFused));
    rope_cases.push_back(one);
  }
  cases->insert(cases->end(), rope_cases.begin(), rope_cases.end());
  // CORVID_BENCH_SPLIT_TOKENS="64 256": the decode cases again with other split lengths
  // (kind "decode/sN"), for choosing the engine's split_tokens.
  const char* env = std::getenv("CORVID_BENCH_SPLIT_TOKENS");
  std::vector<AttentionCase> extra;
  for (absl::string_view tok : absl::StrSplit(env ? env : "", ' ', absl::SkipEmpty())) {
    int split = 0;
    if (!absl::SimpleAtoi(tok, &split) || split <= 0) continue;
    for (const AttentionCase& c : *cases) {
      if (c.kind != "decode") continue;
      AttentionCase vc = c;
      vc.kind = "decode/s" + std::string(tok);
      RETURN_IF_ERROR(TimeDecode(&vc, split));
      extra.push_back(vc);
    }
  }
  cases->insert(cases->end(), extra.begin(), extra.end());
  return absl::OkStatus();
}

absl::Status TimePrefillVariants(std::vector<AttentionCase>* cases) {
  std::vector<AttentionCase> out;
  for (const AttentionCase& c : *cases) {
    if (c.kind != "prefill") continue;
    for (int v = 0; v < kernels::PrefillVariantCount(); ++v) {
      AttentionCase vc = c;
      vc.kind = "prefill/v" + std::to_string(v);
      ASSIGN_OR_RETURN(vc.micros, TimePrefill(c, v));
      out.push_back(vc);
    }
  }
  cases->insert(cases->end(), out.begin(), out.end());
  return absl::OkStatus();
}

}  // namespace corvid::bench
