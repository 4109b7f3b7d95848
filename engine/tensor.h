// Element types and non-owning tensor views shared by the loader and the backends.
#ifndef CORVID_ENGINE_TENSOR_H_
#define CORVID_ENGINE_TENSOR_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace corvid {

enum class DType { kF32, kF16, kBF16, kI32, kI64, kU8, kI8 };

// Bytes per element; the loader rejects any dtype it cannot size.
size_t DTypeSize(DType t);
// Safetensors spelling ("F32", "BF16", ...).
const char* DTypeName(DType t);
// Parses the safetensors spelling; false for unknown names.
bool ParseDType(const std::string& name, DType* out);

// A read-only view of a row-major tensor living in a mapped file or an owned buffer.
struct TensorView {
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  const void* data = nullptr;
  size_t nbytes = 0;

  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
};

inline float Bf16ToF32(uint16_t h) {
  uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}
// Round-to-nearest-even, NaN kept quiet.
inline uint16_t F32ToBf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof(bits));
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40);
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}
float F16ToF32(uint16_t h);
uint16_t F32ToF16(float f);

// Converts `n` elements of `src` (F32, F16 or BF16) to float.
void ConvertToF32(DType src_type, const void* src, float* dst, int64_t n);

}  // namespace corvid

#endif  // CORVID_ENGINE_TENSOR_H_
