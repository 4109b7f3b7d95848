// The weight side of the streaming GEMM's cp.async ring (stream_gemm.cu).
//
// Every stage copies the same rows and the same 16-byte columns of a stage's k range, only k0
// moves: so each thread works out its source pointers, shared addresses and row checks once,
// and a stage costs it one add and one cp.async per 16 bytes. (Recomputing them per stage made
// the kernels issue-bound: ~20 instructions per 16 bytes at one or two warps per SM.)
#ifndef CORVID_KERNELS_STREAM_COPY_CUH_
#define CORVID_KERNELS_STREAM_COPY_CUH_

#include "kernels/mma_utils.cuh"

namespace corvid::kernels {

// kRows weight rows x kKc values per stage, stored with a row stride of kStride elements.
template <typename T, int kRows, int kThreads, int kKc, int kStride>
struct WeightCopier {
  static constexpr int kChunks = kKc / 8;  // 16-byte chunks of a row in one stage
  static constexpr int kPer = kRows * kChunks / kThreads;
  static_assert(kRows * kChunks % kThreads == 0 && kThreads % kChunks == 0,
                "each thread copies whole columns of chunks");

  const T* src[kPer];
  uint32_t dst0;  // shared address of this thread's first chunk in stage 0
  int col;        // k of this thread's chunks within a stage (the same for all of them)
  uint32_t row_ok = 0;  // bit i: the row of chunk i exists

  __device__ WeightCopier(const T* w, int ldw, int n0, int n, const T* stage0, int tid) {
    const int c = tid % kChunks, r0 = tid / kChunks;
    col = c * 8;
    dst0 = SmemAddr(stage0 + r0 * kStride + col);
#pragma unroll
    for (int i = 0; i < kPer; ++i) {
      const int row = n0 + r0 + i * (kThreads / kChunks);
      const bool ok = row < n;
      src[i] = w + static_cast<int64_t>(ok ? row : 0) * ldw + col;
      row_ok |= static_cast<uint32_t>(ok) << i;
    }
  }

  // The chunks of stage k range [k0, k0 + kKc) into the stage `stage_bytes` past stage 0.
  __device__ void Issue(uint32_t stage_bytes, int k0, int k) const {
    const bool col_ok = k0 + col < k;
#pragma unroll
    for (int i = 0; i < kPer; ++i) {
      const bool ok = col_ok && ((row_ok >> i) & 1u);
      CpAsync16Addr(dst0 + stage_bytes + i * (kThreads / kChunks) * kStride * sizeof(T),
                    src[i] + k0, ok ? 16 : 0);
    }
  }
};

}  // namespace corvid::kernels

#endif  // CORVID_KERNELS_STREAM_COPY_CUH_
