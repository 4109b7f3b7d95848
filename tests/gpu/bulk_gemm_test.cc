// The bulk-copy decode GEMM (every configuration) against a double reference at odd sizes (n
// not a multiple of a block's rows, k ending inside a stage, x rows strided), with poisoned
// outputs, and bit for bit against the tiled kernel: both must accumulate alike for the
// bulk kernel to join the batch-invariant family (kernels/bulk_gemm.h).
#include <cmath>
#include <string>
#include <vector>

#include "kernels/bulk_gemm.h"
#include "kernels/tiled_gemm.h"
#include "tests/gpu/gpu_test_util.h"

namespace corvid {
namespace {

using gputest::DataType;
using gputest::DeviceArray;

bool DeviceRunsBulkGemm() { return kernels::BulkGemmSupports(0, 1, 16, 16, 16); }

TEST(BulkGemm, MatchesReferenceInEveryConfiguration) {
  CORVID_SKIP_WITHOUT_GPU();
  if (!DeviceRunsBulkGemm()) GTEST_SKIP() << "needs compute capability 9.0 (bulk copies)";
  const int n = 200, k = 1040, lda = 1048, ldw = 1040;
  for (DataType t : {DataType::kBF16, DataType::kF16}) {
    const auto w = gputest::RandomHalf(t, size_t(n) * ldw, 92);
    DeviceArray<uint16_t> d_w;
    d_w.Upload(w.bits);
    for (int m : {1, 5, 16, 17, 33, 64}) {
      const auto x = gputest::RandomHalf(t, size_t(m) * lda, 91 + m);
      const auto ref = gputest::GemmReference(x.values, lda, w.values, ldw, m, n, k);
      DeviceArray<uint16_t> d_x, d_y(size_t(m) * n);
      DeviceArray<float> d_y32(size_t(m) * n);
      d_x.Upload(x.bits);
      for (int cfg = 0; cfg < kernels::NumBulkGemmConfigs(); ++cfg) {
        d_y.Fill(gputest::HalfNaN(t));
        d_y32.Fill(NAN);
        CORVID_CUDA_OK(kernels::LaunchBulkGemm(cfg, t, d_x.get(), lda, d_w.get(), ldw,
                                               d_y.get(), false, m, n, k, nullptr));
        CORVID_CUDA_OK(kernels::LaunchBulkGemm(cfg, t, d_x.get(), lda, d_w.get(), ldw,
                                               d_y32.get(), true, m, n, k, nullptr));
        gputest::SyncOrFail();
        const std::string where = std::string(gputest::Name(t)) + " m=" + std::to_string(m) +
                                  " " + kernels::BulkGemmConfigName(cfg);
        EXPECT_LT(gputest::RelError(gputest::ToFloats(t, d_y.Download()), ref),
                  gputest::HalfTolerance(t))
            << where;
        EXPECT_LT(gputest::RelError(d_y32.Download(), ref), 1e-5) << where << " (fp32 out)";
      }
    }
  }
  EXPECT_FALSE(kernels::BulkGemmSupports(0, kernels::kBulkGemmMaxRows + 1, 1024, 1024, 1024));
  EXPECT_FALSE(kernels::BulkGemmSupports(0, 1, 1032, 1032, 1032));  // k not a multiple of 16
}

TEST(BulkGemm, SameBitsAsTheTiledKernel) {
  CORVID_SKIP_WITHOUT_GPU();
  if (!DeviceRunsBulkGemm()) GTEST_SKIP() << "needs compute capability 9.0 (bulk copies)";
  const DataType t = DataType::kBF16;
  const int n = 200, k = 4112;
  const auto w = gputest::RandomHalf(t, size_t(n) * k, 94, 0.05f);
  DeviceArray<uint16_t> d_w;
  d_w.Upload(w.bits);
  for (int m : {1, 16, 32, 64}) {
    const auto x = gputest::RandomHalf(t, size_t(m) * k, 95 + m);
    DeviceArray<uint16_t> d_x;
    d_x.Upload(x.bits);
    DeviceArray<float> want(size_t(m) * n), got(size_t(m) * n);
    DeviceArray<uint16_t> want16(size_t(m) * n), got16(size_t(m) * n);
    want.Fill(NAN);
    want16.Fill(gputest::HalfNaN(t));
    CORVID_CUDA_OK(kernels::LaunchTiledGemm(0, t, d_x.get(), k, d_w.get(), k, want.get(), true,
                                            m, n, k, nullptr));
    CORVID_CUDA_OK(kernels::LaunchTiledGemm(0, t, d_x.get(), k, d_w.get(), k, want16.get(),
                                            false, m, n, k, nullptr));
    gputest::SyncOrFail();
    const auto want_bits = want.Download();
    const auto want16_bits = want16.Download();
    for (int cfg = 0; cfg < kernels::NumBulkGemmConfigs(); ++cfg) {
      got.Fill(NAN);
      got16.Fill(gputest::HalfNaN(t));
      CORVID_CUDA_OK(kernels::LaunchBulkGemm(cfg, t, d_x.get(), k, d_w.get(), k, got.get(), true,
                                             m, n, k, nullptr));
      CORVID_CUDA_OK(kernels::LaunchBulkGemm(cfg, t, d_x.get(), k, d_w.get(), k, got16.get(),
                                             false, m, n, k, nullptr));
      gputest::SyncOrFail();
      EXPECT_EQ(got.Download(), want_bits) << "m=" << m << " " << kernels::BulkGemmConfigName(cfg);
      EXPECT_EQ(got16.Download(), want16_bits)
          << "m=" << m << " " << kernels::BulkGemmConfigName(cfg) << " (16-bit out)";
    }
  }
}

}  // namespace
}  // namespace corvid
