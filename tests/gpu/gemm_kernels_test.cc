// The tiled and the streaming tensor-core GEMMs (every configuration) and the skinny GEMM
// against a double reference at odd sizes, and the batch invariance the engine's determinism
// rests on: a row's bits do not depend on the other rows, the configuration or the kernel.
#include <algorithm>
#include <vector>

#include "kernels/skinny_gemm.h"
#include "kernels/stream_gemm.h"
#include "kernels/tiled_gemm.h"
#include "tests/gpu/gpu_test_util.h"

namespace corvid {
namespace {

using gputest::DataType;
using gputest::DeviceArray;

std::vector<double> Reference(const std::vector<float>& a, int lda, const std::vector<float>& b,
                              int ldb, int m, int n, int k) {
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

TEST(GemmKernels, TiledGemmMatchesReferenceInEveryConfiguration) {
  CORVID_SKIP_WITHOUT_GPU();
  const int n = 72, k = 136, lda = 144, ldb = 136;
  for (DataType t : {DataType::kBF16, DataType::kF16}) {
    for (int m : {1, 5, 17, 64, 130}) {
      const auto a = gputest::RandomHalf(t, size_t(m) * lda, 51 + m);
      const auto b = gputest::RandomHalf(t, size_t(n) * ldb, 52);
      const auto ref = Reference(a.values, lda, b.values, ldb, m, n, k);
      DeviceArray<uint16_t> d_a, d_b, d_c(size_t(m) * n);
      DeviceArray<float> d_c32(size_t(m) * n);
      d_a.Upload(a.bits);
      d_b.Upload(b.bits);
      for (int cfg = 0; cfg < kernels::NumTiledGemmConfigs(); ++cfg) {
        d_c.Fill(gputest::HalfNaN(t));
        d_c32.Fill(NAN);
        CORVID_CUDA_OK(kernels::LaunchTiledGemm(cfg, t, d_a.get(), lda, d_b.get(), ldb,
                                                d_c.get(), false, m, n, k, nullptr));
        CORVID_CUDA_OK(kernels::LaunchTiledGemm(cfg, t, d_a.get(), lda, d_b.get(), ldb,
                                                d_c32.get(), true, m, n, k, nullptr));
        gputest::SyncOrFail();
        const std::string where = std::string(gputest::Name(t)) + " m=" + std::to_string(m) +
                                  " " + kernels::TiledGemmConfigName(cfg);
        EXPECT_LT(gputest::RelError(gputest::ToFloats(t, d_c.Download()), ref),
                  gputest::HalfTolerance(t))
            << where;
        EXPECT_LT(gputest::RelError(d_c32.Download(), ref), 1e-5) << where << " (fp32 out)";
      }
    }
  }
}

TEST(GemmKernels, TiledGemmRowsAreBatchInvariant) {
  CORVID_SKIP_WITHOUT_GPU();
  const DataType t = DataType::kBF16;
  const int n = 200, k = 1032, big_m = 150, probe = 37;
  const auto a = gputest::RandomHalf(t, size_t(big_m) * k, 61);
  const auto b = gputest::RandomHalf(t, size_t(n) * k, 62);
  DeviceArray<uint16_t> d_a, d_b, d_row;
  d_a.Upload(a.bits);
  d_b.Upload(b.bits);
  d_row.Upload(std::vector<uint16_t>(a.bits.begin() + size_t(probe) * k,
                                     a.bits.begin() + size_t(probe + 1) * k));
  DeviceArray<float> d_big(size_t(big_m) * n), d_one(n);
  std::vector<float> first;
  for (int cfg = 0; cfg < kernels::NumTiledGemmConfigs(); ++cfg) {
    d_big.Fill(NAN);
    d_one.Fill(NAN);
    CORVID_CUDA_OK(kernels::LaunchTiledGemm(cfg, t, d_a.get(), k, d_b.get(), k, d_big.get(),
                                            true, big_m, n, k, nullptr));
    CORVID_CUDA_OK(kernels::LaunchTiledGemm(cfg, t, d_row.get(), k, d_b.get(), k, d_one.get(),
                                            true, 1, n, k, nullptr));
    gputest::SyncOrFail();
    const auto big = d_big.Download();
    const auto one = d_one.Download();
    const std::vector<float> in_batch(big.begin() + size_t(probe) * n,
                                      big.begin() + size_t(probe + 1) * n);
    EXPECT_EQ(in_batch, one) << kernels::TiledGemmConfigName(cfg);
    if (cfg == 0) first = one;
    EXPECT_EQ(one, first) << "configuration " << kernels::TiledGemmConfigName(cfg)
                          << " accumulates differently";
  }
}

// n not a multiple of any block's rows, k ending inside a stage, x with a wider row stride.
TEST(GemmKernels, StreamGemmMatchesReferenceInEveryConfiguration) {
  CORVID_SKIP_WITHOUT_GPU();
  const int n = 72, k = 144, lda = 152, ldw = 160;
  for (DataType t : {DataType::kBF16, DataType::kF16}) {
    for (int m : {1, 5, 17, 64, 128}) {
      const auto a = gputest::RandomHalf(t, size_t(m) * lda, 151 + m);
      const auto b = gputest::RandomHalf(t, size_t(n) * ldw, 152);
      const auto ref = Reference(a.values, lda, b.values, ldw, m, n, k);
      DeviceArray<uint16_t> d_a, d_b, d_c(size_t(m) * n);
      DeviceArray<float> d_c32(size_t(m) * n);
      d_a.Upload(a.bits);
      d_b.Upload(b.bits);
      int ran = 0;
      for (int cfg = 0; cfg < kernels::NumStreamGemmConfigs(); ++cfg) {
        if (!kernels::StreamGemmSupports(cfg, m, k, lda, ldw)) continue;
        ++ran;
        d_c.Fill(gputest::HalfNaN(t));
        d_c32.Fill(NAN);
        CORVID_CUDA_OK(kernels::LaunchStreamGemm(cfg, t, d_a.get(), lda, d_b.get(), ldw,
                                                 d_c.get(), false, m, n, k, nullptr));
        CORVID_CUDA_OK(kernels::LaunchStreamGemm(cfg, t, d_a.get(), lda, d_b.get(), ldw,
                                                 d_c32.get(), true, m, n, k, nullptr));
        gputest::SyncOrFail();
        const std::string where = std::string(gputest::Name(t)) + " m=" + std::to_string(m) +
                                  " " + kernels::StreamGemmConfigName(cfg);
        EXPECT_LT(gputest::RelError(gputest::ToFloats(t, d_c.Download()), ref),
                  gputest::HalfTolerance(t))
            << where;
        EXPECT_LT(gputest::RelError(d_c32.Download(), ref), 1e-5) << where << " (fp32 out)";
      }
      EXPECT_GT(ran, 0) << "no streaming configuration runs m=" << m;
    }
  }
  EXPECT_FALSE(kernels::StreamGemmSupports(0, kernels::kStreamGemmMaxRows + 1, 64, 64, 64));
  EXPECT_FALSE(kernels::StreamGemmSupports(0, 1, 72, 72, 72));  // k not a multiple of 16
}

// The streaming kernels accumulate exactly as the tiled one: the same bits for every row,
// whatever the configuration or the number of rows around it.
TEST(GemmKernels, StreamGemmRowsEqualTiledRowsBitForBit) {
  CORVID_SKIP_WITHOUT_GPU();
  const int n = 200, k = 1040, big_m = 128, probe = 29;
  for (DataType t : {DataType::kBF16, DataType::kF16}) {
    const auto a = gputest::RandomHalf(t, size_t(big_m) * k, 161);
    const auto b = gputest::RandomHalf(t, size_t(n) * k, 162);
    DeviceArray<uint16_t> d_a, d_b, d_row;
    d_a.Upload(a.bits);
    d_b.Upload(b.bits);
    d_row.Upload(std::vector<uint16_t>(a.bits.begin() + size_t(probe) * k,
                                       a.bits.begin() + size_t(probe + 1) * k));
    DeviceArray<float> d_tiled(size_t(big_m) * n), d_big(size_t(big_m) * n), d_one(n);
    d_tiled.Fill(NAN);
    CORVID_CUDA_OK(kernels::LaunchTiledGemm(0, t, d_a.get(), k, d_b.get(), k, d_tiled.get(),
                                            true, big_m, n, k, nullptr));
    gputest::SyncOrFail();
    const auto tiled = d_tiled.Download();
    const std::vector<float> want(tiled.begin() + size_t(probe) * n,
                                  tiled.begin() + size_t(probe + 1) * n);
    for (int cfg = 0; cfg < kernels::NumStreamGemmConfigs(); ++cfg) {
      const std::string name = std::string(gputest::Name(t)) + " " +
                               kernels::StreamGemmConfigName(cfg);
      // The most rows this configuration takes.
      for (int rows : {big_m, 32}) {
        if (!kernels::StreamGemmSupports(cfg, rows, k, k, k)) continue;
        d_big.Fill(NAN);
        CORVID_CUDA_OK(kernels::LaunchStreamGemm(cfg, t, d_a.get(), k, d_b.get(), k,
                                                 d_big.get(), true, rows, n, k, nullptr));
        gputest::SyncOrFail();
        const auto got = d_big.Download();
        EXPECT_TRUE(std::equal(got.begin(), got.begin() + size_t(rows) * n, tiled.begin()))
            << name << ", " << rows << " rows";
        break;
      }
      d_one.Fill(NAN);
      CORVID_CUDA_OK(kernels::LaunchStreamGemm(cfg, t, d_row.get(), k, d_b.get(), k,
                                               d_one.get(), true, 1, n, k, nullptr));
      gputest::SyncOrFail();
      EXPECT_EQ(d_one.Download(), want) << name << ", one row";
    }
  }
}

TEST(GemmKernels, SkinnyGemmMatchesReference) {
  CORVID_SKIP_WITHOUT_GPU();
  const int n = 100, k = 4104;
  for (DataType t : {DataType::kBF16, DataType::kF16}) {
    for (int m = 1; m <= kernels::kSkinnyGemmMaxRows; ++m) {
      const auto a = gputest::RandomHalf(t, size_t(m) * k, 71 + m);
      const auto b = gputest::RandomHalf(t, size_t(n) * k, 72);
      const auto ref = Reference(a.values, k, b.values, k, m, n, k);
      DeviceArray<uint16_t> d_a, d_b;
      d_a.Upload(a.bits);
      d_b.Upload(b.bits);
      DeviceArray<float> d_c(size_t(m) * n);
      d_c.Fill(NAN);
      CORVID_CUDA_OK(kernels::LaunchSkinnyGemm(t, d_a.get(), d_b.get(), d_c.get(), true, m, n, k,
                                               nullptr));
      gputest::SyncOrFail();
      EXPECT_LT(gputest::RelError(d_c.Download(), ref), 1e-5) << gputest::Name(t) << " m=" << m;
    }
  }
  EXPECT_FALSE(kernels::SkinnyGemmSupports(9, 64));
  EXPECT_FALSE(kernels::SkinnyGemmSupports(1, 172));
}

}  // namespace
}  // namespace corvid
