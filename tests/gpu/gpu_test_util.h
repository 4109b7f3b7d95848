// Helpers for the GPU tests: skipping without a device, device arrays, 16-bit conversions,
// seeded random data and NaN poisoning (so an output element nothing wrote shows up).
#ifndef CORVID_TESTS_GPU_GPU_TEST_UTIL_H_
#define CORVID_TESTS_GPU_GPU_TEST_UTIL_H_

#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "engine/cuda/cuda_backend.h"
#include "engine/tensor.h"
#include "gtest/gtest.h"
#include "kernels/kernel_api.h"

#define CORVID_SKIP_WITHOUT_GPU()                                       \
  do {                                                                  \
    std::string corvid_why;                                             \
    if (!::corvid::CudaDeviceAvailable(&corvid_why)) {                  \
      GTEST_SKIP() << "no usable GPU (" << corvid_why << ")";           \
    }                                                                   \
  } while (0)

#define CORVID_CUDA_OK(expr) ASSERT_EQ(static_cast<int>(expr), 0) << #expr

namespace corvid::gputest {

using kernels::DataType;

inline const char* Name(DataType t) {
  return t == DataType::kBF16 ? "bf16" : (t == DataType::kF16 ? "f16" : "f32");
}

inline uint16_t ToHalf(DataType t, float x) {
  return t == DataType::kBF16 ? F32ToBf16(x) : F32ToF16(x);
}
inline float FromHalf(DataType t, uint16_t h) {
  return t == DataType::kBF16 ? Bf16ToF32(h) : F16ToF32(h);
}
// A quiet NaN in the 16-bit type.
inline uint16_t HalfNaN(DataType t) { return t == DataType::kBF16 ? 0x7FC0 : 0x7E00; }

// Device memory owned by the test.
template <typename T>
class DeviceArray {
 public:
  explicit DeviceArray(size_t n = 0) { Resize(n); }
  ~DeviceArray() {
    if (ptr_) cudaFree(ptr_);
  }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  void Resize(size_t n) {
    if (ptr_) cudaFree(ptr_);
    ptr_ = nullptr;
    n_ = n;
    if (n > 0 && cudaMalloc(&ptr_, n * sizeof(T)) != cudaSuccess) {
      ptr_ = nullptr;
      ADD_FAILURE() << "cudaMalloc failed";
    }
  }
  void Upload(const std::vector<T>& v) {
    if (v.size() != n_) Resize(v.size());
    if (n_ > 0) {
      EXPECT_EQ(cudaMemcpy(ptr_, v.data(), n_ * sizeof(T), cudaMemcpyHostToDevice), cudaSuccess);
    }
  }
  std::vector<T> Download() const {
    std::vector<T> v(n_);
    if (n_ > 0) {
      EXPECT_EQ(cudaMemcpy(v.data(), ptr_, n_ * sizeof(T), cudaMemcpyDeviceToHost), cudaSuccess);
    }
    return v;
  }
  // Fills every element with `value`'s bytes.
  void Fill(T value) { Upload(std::vector<T>(n_, value)); }
  T* get() const { return ptr_; }
  size_t size() const { return n_; }

 private:
  T* ptr_ = nullptr;
  size_t n_ = 0;
};

inline std::vector<float> RandomFloats(size_t n, uint32_t seed, float lo = -1.0f,
                                       float hi = 1.0f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

// Random values already rounded to the 16-bit type, with their 16-bit encodings.
struct HalfData {
  std::vector<float> values;
  std::vector<uint16_t> bits;
};
inline HalfData RandomHalf(DataType t, size_t n, uint32_t seed, float scale = 1.0f) {
  HalfData d;
  d.values = RandomFloats(n, seed, -scale, scale);
  d.bits.resize(n);
  for (size_t i = 0; i < n; ++i) {
    d.bits[i] = ToHalf(t, d.values[i]);
    d.values[i] = FromHalf(t, d.bits[i]);
  }
  return d;
}

inline std::vector<float> ToFloats(DataType t, const std::vector<uint16_t>& bits) {
  std::vector<float> out(bits.size());
  for (size_t i = 0; i < bits.size(); ++i) out[i] = FromHalf(t, bits[i]);
  return out;
}

// ||got - ref|| / ||ref|| (NaN anywhere gives +inf).
inline double RelError(const std::vector<float>& got, const std::vector<double>& ref) {
  double num = 0.0, den = 0.0;
  for (size_t i = 0; i < ref.size(); ++i) {
    if (std::isnan(got[i])) return INFINITY;
    num += (got[i] - ref[i]) * (got[i] - ref[i]);
    den += ref[i] * ref[i];
  }
  return std::sqrt(num / std::max(den, 1e-300));
}

// Relative-error budget of a result rounded to the 16-bit type once.
// y = a * b^T in double: a is [m, k] with row stride lda, b is [n, k] with row stride ldb.
inline std::vector<double> GemmReference(const std::vector<float>& a, int lda,
                                         const std::vector<float>& b, int ldb, int m, int n,
                                         int k) {
  std::vector<double> c(size_t(m) * n);
  for (int i = 0; i < m; ++i) {
    for (int j = 0; j < n; ++j) {
      double acc = 0.0;
      for (int x = 0; x < k; ++x) acc += double(a[size_t(i) * lda + x]) * b[size_t(j) * ldb + x];
      c[size_t(i) * n + j] = acc;
    }
  }
  return c;
}

inline double HalfTolerance(DataType t) { return t == DataType::kBF16 ? 1e-2 : 2e-3; }

inline void SyncOrFail() { ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess); }

}  // namespace corvid::gputest

#endif  // CORVID_TESTS_GPU_GPU_TEST_UTIL_H_
