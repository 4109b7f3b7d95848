// The GEMM dispatcher in batch-invariant mode: after autotuning (which may pick different
// kernels, cuBLASLt algorithms or tile configurations per batch size), a row's output bits do
// not depend on how many rows are multiplied with it.
#include <cuda_runtime.h>

#include <cstdio>
#include <vector>

#include "engine/cuda/gemm.h"
#include "tests/gpu/gpu_test_util.h"

namespace corvid {
namespace {

using gputest::DataType;
using gputest::DeviceArray;

TEST(GemmDispatcher, InvariantRowsDoNotDependOnTheBatch) {
  CORVID_SKIP_WITHOUT_GPU();
  cudaStream_t stream;
  ASSERT_EQ(cudaStreamCreate(&stream), cudaSuccess);
  cuda::GemmOptions options;
  options.batch_invariant = true;
  auto gemm = cuda::GemmDispatcher::Create(DType::kBF16, stream, options);
  ASSERT_TRUE(gemm.ok()) << gemm.status();
  const int n = 2056, k = 1032, max_m = 256;
  const auto w0 = gputest::RandomHalf(DataType::kBF16, size_t(n) * k, 81, 0.05f);
  const auto w1 = gputest::RandomHalf(DataType::kBF16, size_t(n) * k, 82, 0.05f);
  const auto x = gputest::RandomHalf(DataType::kBF16, size_t(max_m) * k, 83);
  DeviceArray<uint16_t> d_w0, d_w1, d_x;
  d_w0.Upload(w0.bits);
  d_w1.Upload(w1.bits);
  d_x.Upload(x.bits);
  for (bool f32 : {false, true}) {
    cuda::GemmProblem p{"probe", n, k, k, f32, {d_w0.get(), d_w1.get()}};
    ASSERT_TRUE((*gemm)->Autotune({p}, {1, 2, 4, 8, 16, 32, 64, 128, max_m}).ok());
    std::printf("%s", (*gemm)->Describe().c_str());
    const size_t elem = f32 ? 4 : 2;
    DeviceArray<char> full(size_t(max_m) * n * elem), part(size_t(max_m) * n * elem);
    ASSERT_TRUE((*gemm)->Run(d_x.get(), k, d_w0.get(), k, full.get(), f32, max_m, n, k).ok());
    ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
    const auto want = full.Download();
    for (int m : {1, 3, 8, 17, 100, 200}) {
      part.Fill(0);
      ASSERT_TRUE((*gemm)->Run(d_x.get(), k, d_w0.get(), k, part.get(), f32, m, n, k).ok());
      ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
      const auto got = part.Download();
      EXPECT_TRUE(std::equal(got.begin(), got.begin() + size_t(m) * n * elem, want.begin()))
          << "rows of a " << m << "-row product differ from the same rows in a " << max_m
          << "-row product (f32 output: " << f32 << ")";
    }
  }
  gemm->reset();
  cudaStreamDestroy(stream);
}

}  // namespace
}  // namespace corvid
