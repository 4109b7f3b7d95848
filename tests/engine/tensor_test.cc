#include "engine/tensor.h"

#include <cmath>
#include <random>

#include "gtest/gtest.h"

namespace corvid {
namespace {

TEST(TensorTest, DTypeNamesRoundTrip) {
  for (DType t : {DType::kF32, DType::kF16, DType::kBF16, DType::kI32, DType::kI64, DType::kU8,
                  DType::kI8}) {
    DType parsed;
    ASSERT_TRUE(ParseDType(DTypeName(t), &parsed));
    EXPECT_EQ(parsed, t);
    EXPECT_GT(DTypeSize(t), 0u);
  }
  DType unused;
  EXPECT_FALSE(ParseDType("F8_E4M3X", &unused));
}

TEST(TensorTest, HalfConversionsRoundToNearest) {
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.0f, 3.0f);
  for (int i = 0; i < 10000; ++i) {
    const float x = dist(rng);
    EXPECT_NEAR(F16ToF32(F32ToF16(x)), x, std::fabs(x) * 4.9e-4f + 6e-8f) << x;
    EXPECT_NEAR(Bf16ToF32(F32ToBf16(x)), x, std::fabs(x) * 3.91e-3f) << x;
  }
  // Exact values survive.
  for (float x : {0.0f, 1.0f, -2.0f, 0.5f, 65504.0f, 6.103515625e-05f, 5.960464477539063e-08f}) {
    EXPECT_EQ(F16ToF32(F32ToF16(x)), x);
  }
  EXPECT_TRUE(std::isinf(F16ToF32(F32ToF16(1e6f))));
  EXPECT_TRUE(std::isnan(F16ToF32(F32ToF16(NAN))));
  EXPECT_EQ(Bf16ToF32(F32ToBf16(1.0f)), 1.0f);
}

}  // namespace
}  // namespace corvid
