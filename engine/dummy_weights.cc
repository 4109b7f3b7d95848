// Seeded dummy weights (WeightStore::Dummy) for benchmarks and synthetic checkpoints.
#include "engine/dummy_weights.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/weights.h"

namespace corvid {
namespace {

constexpr uint64_t kGamma = 0x9e3779b97f4a7c15ull;

// SplitMix64's output function: state = seed + (i + 1) * gamma gives the i-th output of the
// stream, which makes every element independently computable (parallel and deterministic).
uint64_t Mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t NameHash(const std::string& s) {  // FNV-1a: stable across platforms and runs
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

void Store(DType dtype, void* dst, int64_t i, float v) {
  switch (dtype) {
    case DType::kF32:
      static_cast<float*>(dst)[i] = v;
      break;
    case DType::kBF16:
      static_cast<uint16_t*>(dst)[i] = F32ToBf16(v);
      break;
    case DType::kF16:
      static_cast<uint16_t*>(dst)[i] = F32ToF16(v);
      break;
    default:
      break;  // callers only pass float dtypes
  }
}

class OwnedWeightStore : public WeightStore {
 public:
  const TensorView* Find(const std::string& name) const override {
    auto it = tensors_.find(name);
    return it == tensors_.end() ? nullptr : &it->second;
  }
  std::vector<std::string> Names() const override {
    std::vector<std::string> names;
    for (const auto& [name, t] : tensors_) names.push_back(name);
    return names;
  }
  // Returns nullptr when out of memory.
  void* Allocate(const std::string& name, const std::vector<int64_t>& shape, DType dtype) {
    TensorView v;
    v.dtype = dtype;
    v.shape = shape;
    v.nbytes = static_cast<size_t>(v.numel()) * DTypeSize(dtype);
    void* p = std::aligned_alloc(64, (v.nbytes + 63) / 64 * 64 + 64);
    if (p == nullptr) return nullptr;
    buffers_.emplace_back(p, &std::free);
    v.data = p;
    tensors_[name] = std::move(v);
    return p;
  }

 private:
  std::map<std::string, TensorView> tensors_;
  std::vector<std::unique_ptr<void, decltype(&std::free)>> buffers_;
};

}  // namespace

void FillDummyTensor(const ModelConfig& config, const std::string& name,
                     const std::vector<int64_t>& shape, DType dtype, uint64_t seed, void* dst) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  if (absl::EndsWith(name, "norm.weight")) {
#pragma omp parallel for schedule(static) if (n > (1 << 16))
    for (int64_t i = 0; i < n; ++i) Store(dtype, dst, i, 1.0f);
    return;
  }
  // [out, in] matrices: fan_in is the row length. Biases scale like their matrix's rows.
  const int64_t fan_in = shape.size() >= 2 ? shape.back() : config.hidden_size;
  const float a = 1.0f / std::sqrt(static_cast<float>(fan_in > 0 ? fan_in : 1));
  const uint64_t base = Mix(seed ^ NameHash(name));
#pragma omp parallel for schedule(static) if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t r = Mix(base + static_cast<uint64_t>(i + 1) * kGamma);
    const float u = static_cast<float>(r >> 40) * (1.0f / 16777216.0f);  // [0, 1), 24 bits
    Store(dtype, dst, i, a * (2.0f * u - 1.0f));
  }
}

absl::StatusOr<std::unique_ptr<WeightStore>> WeightStore::Dummy(const ModelConfig& config,
                                                                DType dtype, uint64_t seed) {
  if (dtype != DType::kF32 && dtype != DType::kF16 && dtype != DType::kBF16) {
    return absl::InvalidArgumentError(
        absl::StrCat("dummy weights must be F32, F16 or BF16, not ", DTypeName(dtype)));
  }
  auto store = std::make_unique<OwnedWeightStore>();
  for (const auto& [name, shape] : ExpectedTensors(config)) {
    void* dst = store->Allocate(name, shape, dtype);
    if (dst == nullptr) {
      return absl::ResourceExhaustedError(
          absl::StrCat("out of host memory allocating dummy tensor '", name, "'"));
    }
    FillDummyTensor(config, name, shape, dtype, seed, dst);
  }
  return std::unique_ptr<WeightStore>(std::move(store));
}

}  // namespace corvid
