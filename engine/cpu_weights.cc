#include "engine/cpu_weights.h"

#include <cstdlib>
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/status_macros.h"

namespace corvid {
namespace {

using ShapeMap = std::map<std::string, std::vector<int64_t>>;

// Copies named tensors into consecutive ranges of the arena, converting to fp32. The arena is
// sized from the same ExpectedTensors map that gives each tensor's required shape, so a tensor
// of any other shape is an error and never an overflow.
class ArenaFiller {
 public:
  ArenaFiller(const WeightStore& store, const ShapeMap& expected, float* base)
      : store_(store), expected_(expected), cursor_(base) {}

  // Appends the tensors in order (they become one row-major matrix) and returns the start.
  absl::StatusOr<const float*> Append(const std::vector<std::string>& names) {
    const float* start = cursor_;
    for (const std::string& name : names) {
      auto shape = expected_.find(name);
      if (shape == expected_.end()) {
        return absl::InternalError(absl::StrCat("tensor '", name, "' is not expected"));
      }
      ASSIGN_OR_RETURN(const TensorView* t, store_.Get(name));
      if (t->shape != shape->second) {
        return absl::InvalidArgumentError(absl::StrCat(
            "tensor '", name, "' has shape [", absl::StrJoin(t->shape, ", "), "], expected [",
            absl::StrJoin(shape->second, ", "), "]"));
      }
      if (t->dtype != DType::kF32 && t->dtype != DType::kF16 && t->dtype != DType::kBF16) {
        return absl::InvalidArgumentError(absl::StrCat("tensor '", name, "' has dtype ",
                                                       DTypeName(t->dtype),
                                                       "; the CPU backend reads F32, F16, BF16"));
      }
      ConvertToF32(t->dtype, t->data, cursor_, t->numel());
      cursor_ += t->numel();
    }
    return start;
  }
  bool Expects(const std::string& name) const { return expected_.count(name) > 0; }

 private:
  const WeightStore& store_;
  const ShapeMap& expected_;
  float* cursor_;
};

int64_t ArenaFloats(const ShapeMap& expected) {
  int64_t n = 0;
  for (const auto& [name, shape] : expected) {
    int64_t e = 1;
    for (int64_t d : shape) e *= d;
    n += e;
  }
  return n;
}

absl::StatusOr<CpuLayerWeights> LoadLayer(int i, ArenaFiller& fill) {
  const std::string p = absl::StrCat("model.layers.", i, ".");
  const std::string attn = p + "self_attn.";
  CpuLayerWeights l;
  ASSIGN_OR_RETURN(l.attn_norm, fill.Append({p + "input_layernorm.weight"}));
  ASSIGN_OR_RETURN(l.qkv, fill.Append({attn + "q_proj.weight", attn + "k_proj.weight",
                                       attn + "v_proj.weight"}));
  if (fill.Expects(attn + "q_proj.bias")) {
    ASSIGN_OR_RETURN(l.qkv_bias, fill.Append({attn + "q_proj.bias", attn + "k_proj.bias",
                                              attn + "v_proj.bias"}));
  }
  ASSIGN_OR_RETURN(l.o, fill.Append({attn + "o_proj.weight"}));
  if (fill.Expects(attn + "o_proj.bias")) {
    ASSIGN_OR_RETURN(l.o_bias, fill.Append({attn + "o_proj.bias"}));
  }
  ASSIGN_OR_RETURN(l.mlp_norm, fill.Append({p + "post_attention_layernorm.weight"}));
  ASSIGN_OR_RETURN(l.gate_up, fill.Append({p + "mlp.gate_proj.weight", p + "mlp.up_proj.weight"}));
  ASSIGN_OR_RETURN(l.down, fill.Append({p + "mlp.down_proj.weight"}));
  return l;
}

}  // namespace

void AlignedFloats::Free::operator()(float* p) const { std::free(p); }

absl::StatusOr<AlignedFloats> AlignedFloats::Allocate(int64_t count) {
  AlignedFloats a;
  const size_t bytes = (static_cast<size_t>(count) * sizeof(float) + 63) / 64 * 64;
  a.data_.reset(static_cast<float*>(std::aligned_alloc(64, bytes > 0 ? bytes : 64)));
  if (a.data_ == nullptr) {
    return absl::ResourceExhaustedError(absl::StrCat("cannot allocate ", bytes, " bytes"));
  }
  a.size_ = count;
  return a;
}

absl::StatusOr<CpuWeights> LoadCpuWeights(const ModelConfig& c, const WeightStore& store) {
  const ShapeMap expected = ExpectedTensors(c);
  CpuWeights w;
  ASSIGN_OR_RETURN(w.arena, AlignedFloats::Allocate(ArenaFloats(expected)));
  ArenaFiller fill(store, expected, w.arena.data());
  ASSIGN_OR_RETURN(w.embed, fill.Append({"model.embed_tokens.weight"}));
  for (int i = 0; i < c.num_layers; ++i) {
    ASSIGN_OR_RETURN(CpuLayerWeights layer, LoadLayer(i, fill));
    w.layers.push_back(layer);
  }
  ASSIGN_OR_RETURN(w.final_norm, fill.Append({"model.norm.weight"}));
  if (c.tie_word_embeddings) {
    w.lm_head = w.embed;
  } else {
    ASSIGN_OR_RETURN(w.lm_head, fill.Append({"lm_head.weight"}));
  }
  // A decode step reads every weight once, except the embedding table when it is not also the
  // lm_head (only the step's rows of it are read).
  const int64_t embed_bytes =
      c.tie_word_embeddings ? 0 : int64_t{4} * c.vocab_size * c.hidden_size;
  w.bytes_per_token_step = w.arena.size() * 4 - embed_bytes;
  return w;
}

}  // namespace corvid
