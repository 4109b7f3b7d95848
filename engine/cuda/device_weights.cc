#include "engine/cuda/device_weights.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/cuda/cuda_check.h"
#include "kernels/elementwise.h"

namespace corvid::cuda {
namespace {

constexpr int64_t kAlign = 256;

int64_t AlignUp(int64_t x) { return (x + kAlign - 1) / kAlign * kAlign; }

// A destination region of the arena and the tensors that fill it (in order, each `rows` rows
// of `cols` elements, written at row pitch `pitch`).
struct Piece {
  std::string name;
  int64_t rows = 0, cols = 0;
};
struct Region {
  void** slot = nullptr;
  int64_t pitch = 0;  // elements per destination row
  std::vector<Piece> pieces;
  bool is_norm = false;
  int64_t Elements() const {
    int64_t rows = 0;
    for (const Piece& p : pieces) rows += p.rows;
    return rows * pitch;
  }
};

std::vector<Region> PlanRegions(const ModelConfig& c, DeviceWeights* w) {
  const int64_t h = c.hidden_size, q = c.q_dim(), kv = c.kv_dim(), ff = c.intermediate_size;
  std::vector<Region> regions;
  regions.push_back({&w->embed, h, {{"model.embed_tokens.weight", c.vocab_size, h}}});
  for (int i = 0; i < c.num_layers; ++i) {
    DeviceLayerWeights& l = w->layers[i];
    const std::string p = absl::StrCat("model.layers.", i, ".");
    regions.push_back({&l.input_norm, h, {{p + "input_layernorm.weight", 1, h}}, true});
    regions.push_back({&l.qkv, h,
                       {{p + "self_attn.q_proj.weight", q, h},
                        {p + "self_attn.k_proj.weight", kv, h},
                        {p + "self_attn.v_proj.weight", kv, h}}});
    if (c.attention_bias) {
      // One row per bias so the pieces stack into the fused [q + 2 kv] vector.
      regions.push_back({&l.qkv_bias, 1,
                         {{p + "self_attn.q_proj.bias", q, 1},
                          {p + "self_attn.k_proj.bias", kv, 1},
                          {p + "self_attn.v_proj.bias", kv, 1}}});
    }
    regions.push_back({&l.o, q, {{p + "self_attn.o_proj.weight", h, q}}});
    regions.push_back({&l.post_norm, h, {{p + "post_attention_layernorm.weight", 1, h}}, true});
    regions.push_back({&l.gate_up, h,
                       {{p + "mlp.gate_proj.weight", ff, h}, {p + "mlp.up_proj.weight", ff, h}}});
    regions.push_back({&l.down, w->inter_padded, {{p + "mlp.down_proj.weight", h, ff}}});
  }
  regions.push_back({&w->final_norm, h, {{"model.norm.weight", 1, h}}, true});
  if (!c.tie_word_embeddings) {
    regions.push_back({&w->lm_head, h, {{"lm_head.weight", c.vocab_size, h}}});
  }
  return regions;
}

absl::Status CheckSupported(const ModelConfig& c, DType dtype) {
  if (dtype != DType::kF16 && dtype != DType::kBF16) {
    return absl::InvalidArgumentError("the CUDA backend computes in F16 or BF16");
  }
  if (c.hidden_size % 8 != 0 || c.head_dim % 8 != 0) {
    return absl::UnimplementedError(absl::StrCat(
        "CUDA backend needs hidden_size and head_dim multiples of 8 (got ", c.hidden_size, ", ",
        c.head_dim, ")"));
  }
  if (c.attention_bias && c.model_type == "llama") {
    return absl::UnimplementedError("CUDA backend: o_proj bias (llama attention_bias)");
  }
  return absl::OkStatus();
}

// Lays out the arena; returns the regions with their slots pointing into it.
absl::StatusOr<std::vector<Region>> AllocateArena(const ModelConfig& c, DType dtype,
                                                  DeviceWeights* w) {
  RETURN_IF_ERROR(CheckSupported(c, dtype));
  w->dtype = dtype;
  w->inter_padded = (c.intermediate_size + 7) / 8 * 8;
  w->layers.assign(c.num_layers, DeviceLayerWeights{});
  std::vector<Region> regions = PlanRegions(c, w);
  int64_t bytes = 0;
  for (const Region& r : regions) bytes += AlignUp(r.Elements() * 2);
  ASSIGN_OR_RETURN(w->arena, DeviceBuffer::Allocate(bytes));
  CUDA_RETURN_IF_ERROR(cudaMemset(w->arena.data(), 0, bytes));  // row padding stays zero
  char* cursor = w->arena.as<char>();
  for (Region& r : regions) {
    *r.slot = cursor;
    cursor += AlignUp(r.Elements() * 2);
  }
  if (c.tie_word_embeddings) w->lm_head = w->embed;
  return regions;
}

// Host conversion of `n` elements to 16-bit `dtype`.
void ConvertToHalf(const TensorView& src, int64_t offset, int64_t n, DType dtype,
                   std::vector<uint16_t>* dst) {
  std::vector<float> f(n);
  const char* base = static_cast<const char*>(src.data) + offset * DTypeSize(src.dtype);
  ConvertToF32(src.dtype, base, f.data(), n);
  dst->resize(n);
  for (int64_t i = 0; i < n; ++i) {
    (*dst)[i] = dtype == DType::kBF16 ? F32ToBf16(f[i]) : F32ToF16(f[i]);
  }
}

absl::Status CopyPiece(const TensorView& v, const Piece& piece, int64_t pitch, DType dtype,
                       char* dst) {
  const int64_t row_bytes = piece.cols * 2;
  if (v.dtype == dtype) {
    CUDA_RETURN_IF_ERROR(cudaMemcpy2D(dst, pitch * 2, v.data, row_bytes, row_bytes, piece.rows,
                                      cudaMemcpyHostToDevice));
    return absl::OkStatus();
  }
  // Convert in slabs of rows to bound the staging memory.
  const int64_t slab = std::max<int64_t>(1, (int64_t{1} << 24) / std::max<int64_t>(1, piece.cols));
  std::vector<uint16_t> staging;
  for (int64_t r0 = 0; r0 < piece.rows; r0 += slab) {
    const int64_t rows = std::min(slab, piece.rows - r0);
    ConvertToHalf(v, r0 * piece.cols, rows * piece.cols, dtype, &staging);
    CUDA_RETURN_IF_ERROR(cudaMemcpy2D(dst + r0 * pitch * 2, pitch * 2, staging.data(), row_bytes,
                                      row_bytes, rows, cudaMemcpyHostToDevice));
  }
  return absl::OkStatus();
}

kernels::DataType KernelType(DType t) {
  return t == DType::kF16 ? kernels::DataType::kF16 : kernels::DataType::kBF16;
}

}  // namespace

int64_t DeviceWeightBytes(const ModelConfig& c, DType dtype) {
  DeviceWeights w;
  w.inter_padded = (c.intermediate_size + 7) / 8 * 8;
  w.layers.assign(c.num_layers, DeviceLayerWeights{});
  int64_t bytes = 0;
  for (const Region& r : PlanRegions(c, &w)) bytes += AlignUp(r.Elements() * 2);
  return bytes;
}

absl::StatusOr<DeviceWeights> UploadWeights(const ModelConfig& config, const WeightStore& store,
                                            DType dtype) {
  DeviceWeights w;
  ASSIGN_OR_RETURN(std::vector<Region> regions, AllocateArena(config, dtype, &w));
  for (const Region& r : regions) {
    char* dst = static_cast<char*>(*r.slot);
    for (const Piece& piece : r.pieces) {
      ASSIGN_OR_RETURN(const TensorView* v, store.Get(piece.name));
      if (v->numel() != piece.rows * piece.cols) {
        return absl::InvalidArgumentError(
            absl::StrCat("tensor '", piece.name, "' has ", v->numel(), " elements, expected ",
                         piece.rows * piece.cols));
      }
      RETURN_IF_ERROR(CopyPiece(*v, piece, r.pitch, dtype, dst));
      dst += piece.rows * r.pitch * 2;
    }
  }
  return w;
}

absl::StatusOr<DeviceWeights> RandomDeviceWeights(const ModelConfig& config, DType dtype,
                                                  uint64_t seed) {
  DeviceWeights w;
  ASSIGN_OR_RETURN(std::vector<Region> regions, AllocateArena(config, dtype, &w));
  uint64_t stream_id = 0;
  for (const Region& r : regions) {
    // Fan-in is the row length (the pitch's logical part); padding columns get values too,
    // which is harmless: the activations they meet are zero.
    const int64_t fan_in = r.pieces.front().cols;
    const float scale = r.is_norm ? 0.0f : 1.0f / std::sqrt(static_cast<float>(fan_in));
    const float offset = r.is_norm ? 1.0f : 0.0f;
    KERNEL_RETURN_IF_ERROR(kernels::LaunchRandomFill(KernelType(dtype), *r.slot, r.Elements(),
                                                     seed * 1000003ull + (++stream_id), scale,
                                                     offset, nullptr));
  }
  CUDA_RETURN_IF_ERROR(cudaDeviceSynchronize());
  return w;
}

}  // namespace corvid::cuda
