#include "engine/cpu_weights.h"

#include <cstdlib>
#include <cstring>
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/status_macros.h"

namespace corvid {
namespace {

using ShapeMap = std::map<std::string, std::vector<int64_t>>;

// Lays tensors out in the arena. Run twice: first with a null base to count the floats (and
// validate every tensor), then over the allocated arena to convert and pack, so the sizes and
// the layout come from one piece of code.
class ArenaFiller {
 public:
  ArenaFiller(const WeightStore& store, const ShapeMap& expected, float* base)
      : store_(store), expected_(expected), base_(base) {}

  int64_t used() const { return used_; }
  bool Expects(const std::string& name) const { return expected_.count(name) > 0; }

  // Concatenates the tensors row-major (norm weights, biases, the embedding table).
  absl::StatusOr<const float*> Plain(const std::vector<std::string>& names) {
    const float* start = Cursor();
    for (const std::string& name : names) {
      ASSIGN_OR_RETURN(const TensorView* t, Checked(name));
      if (base_ != nullptr) ConvertToF32(t->dtype, t->data, base_ + used_, t->numel());
      used_ += t->numel();
    }
    return start;
  }

  // Stacks the tensors' rows into one packed matrix.
  absl::StatusOr<PackedMatrix> Packed(const std::vector<std::string>& names) {
    std::vector<const TensorView*> parts;
    int rows = 0;
    for (const std::string& name : names) {
      ASSIGN_OR_RETURN(const TensorView* t, Checked(name));
      parts.push_back(t);
      rows += static_cast<int>(t->shape[0]);
    }
    PackedMatrix m;
    m.data = Cursor();
    m.rows = rows;
    m.k = static_cast<int>(parts[0]->shape.back());
    if (base_ != nullptr) Pack(parts, m);
    used_ += PackedFloats(m.rows, m.k);
    return m;
  }

 private:
  const float* Cursor() const { return base_ == nullptr ? nullptr : base_ + used_; }

  absl::StatusOr<const TensorView*> Checked(const std::string& name) {
    auto shape = expected_.find(name);
    if (shape == expected_.end()) {
      return absl::InternalError(absl::StrCat("tensor '", name, "' is not expected"));
    }
    ASSIGN_OR_RETURN(const TensorView* t, store_.Get(name));
    if (t->shape != shape->second) {
      return absl::InvalidArgumentError(absl::StrCat("tensor '", name, "' has shape [",
                                                     absl::StrJoin(t->shape, ", "), "], expected [",
                                                     absl::StrJoin(shape->second, ", "), "]"));
    }
    if (t->dtype != DType::kF32 && t->dtype != DType::kF16 && t->dtype != DType::kBF16) {
      return absl::InvalidArgumentError(absl::StrCat("tensor '", name, "' has dtype ",
                                                     DTypeName(t->dtype),
                                                     "; the CPU backend reads F32, F16, BF16"));
    }
    return t;
  }

  void Pack(const std::vector<const TensorView*>& parts, const PackedMatrix& m) {
    std::vector<float> row(m.k);
    float* dst = base_ + used_;
    int r = 0;
    for (const TensorView* t : parts) {
      const auto* src = static_cast<const uint8_t*>(t->data);
      const size_t row_bytes = DTypeSize(t->dtype) * m.k;
      for (int64_t i = 0; i < t->shape[0]; ++i, ++r) {
        ConvertToF32(t->dtype, src + i * row_bytes, row.data(), m.k);
        PackRow(dst, m.k, r, row.data());
      }
    }
  }

  const WeightStore& store_;
  const ShapeMap& expected_;
  float* base_;
  int64_t used_ = 0;
};

absl::StatusOr<CpuLayerWeights> LoadLayer(int i, ArenaFiller& fill) {
  const std::string p = absl::StrCat("model.layers.", i, ".");
  const std::string attn = p + "self_attn.";
  CpuLayerWeights l;
  ASSIGN_OR_RETURN(l.attn_norm, fill.Plain({p + "input_layernorm.weight"}));
  ASSIGN_OR_RETURN(
      l.qkv, fill.Packed({attn + "q_proj.weight", attn + "k_proj.weight", attn + "v_proj.weight"}));
  if (fill.Expects(attn + "q_proj.bias")) {
    ASSIGN_OR_RETURN(
        l.qkv_bias, fill.Plain({attn + "q_proj.bias", attn + "k_proj.bias", attn + "v_proj.bias"}));
  }
  ASSIGN_OR_RETURN(l.o, fill.Packed({attn + "o_proj.weight"}));
  if (fill.Expects(attn + "o_proj.bias")) {
    ASSIGN_OR_RETURN(l.o_bias, fill.Plain({attn + "o_proj.bias"}));
  }
  ASSIGN_OR_RETURN(l.mlp_norm, fill.Plain({p + "post_attention_layernorm.weight"}));
  ASSIGN_OR_RETURN(l.gate_up, fill.Packed({p + "mlp.gate_proj.weight", p + "mlp.up_proj.weight"}));
  ASSIGN_OR_RETURN(l.down, fill.Packed({p + "mlp.down_proj.weight"}));
  return l;
}

absl::StatusOr<CpuWeights> LayOut(const ModelConfig& c, ArenaFiller& fill) {
  CpuWeights w;
  if (c.tie_word_embeddings) {
    ASSIGN_OR_RETURN(w.lm_head, fill.Packed({"model.embed_tokens.weight"}));
  } else {
    ASSIGN_OR_RETURN(w.embed, fill.Plain({"model.embed_tokens.weight"}));
  }
  for (int i = 0; i < c.num_layers; ++i) {
    ASSIGN_OR_RETURN(CpuLayerWeights layer, LoadLayer(i, fill));
    w.layers.push_back(layer);
  }
  ASSIGN_OR_RETURN(w.final_norm, fill.Plain({"model.norm.weight"}));
  if (!c.tie_word_embeddings) {
    ASSIGN_OR_RETURN(w.lm_head, fill.Packed({"lm_head.weight"}));
  }
  return w;
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
  std::memset(a.data_.get(), 0, bytes);
  a.size_ = count;
  return a;
}

absl::StatusOr<CpuWeights> LoadCpuWeights(const ModelConfig& c, const WeightStore& store) {
  const ShapeMap expected = ExpectedTensors(c);
  ArenaFiller count(store, expected, nullptr);
  RETURN_IF_ERROR(LayOut(c, count).status());
  ASSIGN_OR_RETURN(AlignedFloats arena, AlignedFloats::Allocate(count.used()));
  ArenaFiller fill(store, expected, arena.data());
  ASSIGN_OR_RETURN(CpuWeights w, LayOut(c, fill));
  w.arena = std::move(arena);
  // A decode step reads every weight once, except the embedding table when it is not also the
  // lm_head (only the step's rows of it are read).
  const int64_t embed_bytes = w.embed == nullptr ? 0 : int64_t{4} * c.vocab_size * c.hidden_size;
  w.bytes_per_token_step = w.arena.size() * 4 - embed_bytes;
  return w;
}

}  // namespace corvid
