#include "kernels/rng.h"

#include <cmath>
#include <cstdint>
#include <set>

#include "gtest/gtest.h"

namespace corvid {
namespace {

struct Kat {
  uint32_t ctr[4];
  uint32_t key[2];
  uint32_t expected[4];
};

// Random123 tests/kat_vectors, the three "philox4x32 10" lines (counter, key, result).
TEST(Philox, MatchesRandom123KnownAnswers) {
  const Kat kats[] = {
      {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
      {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
       {0xffffffff, 0xffffffff},
       {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
      {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
       {0xa4093822, 0x299f31d0},
       {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
  };
  for (const Kat& k : kats) {
    Philox4x32Block ctr{{k.ctr[0], k.ctr[1], k.ctr[2], k.ctr[3]}};
    const Philox4x32Block out = Philox4x32_10(ctr, k.key[0], k.key[1]);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(out.v[i], k.expected[i]) << "word " << i;
  }
}

TEST(Philox, SeedAndCounterMapToKeyAndCounterWords) {
  const uint64_t seed = 0x299f31d0a4093822ull;
  const uint64_t counter = 0x85a308d3243f6a88ull;
  const Philox4x32Block direct =
      Philox4x32_10(Philox4x32Block{{0x243f6a88, 0x85a308d3, 7, 0}}, 0xa4093822, 0x299f31d0);
  const Philox4x32Block via = RandomBits(seed, counter, 7);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(via.v[i], direct.v[i]);
}

TEST(UniformFloat, InUnitIntervalAndRoughlyUniform) {
  double sum = 0.0;
  int buckets[10] = {0};
  const int n = 100000;
  for (int i = 0; i < n; ++i) {
    const float u = UniformFloat(42, i);
    ASSERT_GE(u, 0.0f);
    ASSERT_LT(u, 1.0f);
    sum += u;
    ++buckets[static_cast<int>(u * 10)];
  }
  EXPECT_NEAR(sum / n, 0.5, 0.005);
  for (int b : buckets) EXPECT_NEAR(b, n / 10, 600);  // ~6 sigma
  EXPECT_EQ(BitsToUniform(0xffffffffu), 1.0f - 1.0f / 16777216.0f);
  EXPECT_EQ(BitsToUniform(0), 0.0f);
}

TEST(UniformFloat, DependsOnSeedCounterAndStream) {
  std::set<float> values;
  for (uint64_t seed = 0; seed < 4; ++seed) {
    for (uint64_t c = 0; c < 4; ++c) {
      for (uint32_t s = 0; s < 2; ++s) values.insert(UniformFloat(seed, c, s));
    }
  }
  EXPECT_EQ(values.size(), 32u);  // 24-bit values: a collision among 32 is ~3e-5 likely
  EXPECT_EQ(UniformFloat(5, 9), UniformFloat(5, 9));
}

}  // namespace
}  // namespace corvid
