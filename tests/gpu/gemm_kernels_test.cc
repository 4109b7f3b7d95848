// The tiled tensor-core GEMM (every configuration) and the skinny GEMM against a double
// reference at odd sizes, and the batch invariance the engine's determinism rests on: a row's
// bits do not depend on the other rows or on the configuration.
#include <algorithm>
#include <vector>

#include "kernels/skinny_gemm.h"
#include "kernels/tiled_gemm.h"
#include "tests/gpu/gpu_test_util.h"

namespace corvid {
namespace {

using gputest::DataType;
using gputest::DeviceArray;

TEST(GemmKernels, TiledGemmMatchesReferenceInEveryConfiguration) {
  CORVID_SKIP_WITHOUT_GPU();
  const int n = 72, k = 136, lda = 144, ldb = 136;
  for (DataType t : {DataType::kBF16, DataType::kF16}) {
    for (int m : {1, 5, 17, 64, 130}) {
      const auto a = gputest::RandomHalf(t, size_t(m) * lda, 51 + m);
      const auto b = gputest::RandomHalf(t, size_t(n) * ldb, 52);
      const auto ref = gputest::GemmReference(a.values, lda, b.values, ldb, m, n, k);
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

TEST(GemmKernels, SkinnyGemmMatchesReference) {
  CORVID_SKIP_WITHOUT_GPU();
  const int n = 100, k = 4104;
  for (DataType t : {DataType::kBF16, DataType::kF16}) {
    for (int m = 1; m <= kernels::kSkinnyGemmMaxRows; ++m) {
      const auto a = gputest::RandomHalf(t, size_t(m) * k, 71 + m);
      const auto b = gputest::RandomHalf(t, size_t(n) * k, 72);
      const auto ref = gputest::GemmReference(a.values, k, b.values, k, m, n, k);
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
