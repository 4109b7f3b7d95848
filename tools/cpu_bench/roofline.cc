#include "tools/cpu_bench/roofline.h"

#include <chrono>
#include <cstring>
#include <vector>

#include "engine/cpu_parallel.h"
#include "engine/cpu_simd.h"
#include "engine/cpu_weights.h"

namespace corvid::bench {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// Splits [0, n) into 64 chunks shared by the team, each chunk a contiguous range.
template <typename F>
void ForChunks(int64_t n, F&& body) {
  constexpr int kChunks = 64;
  ParallelFor(kChunks, [&](int c) { body(n * c / kChunks, n * (c + 1) / kChunks); });
}

}  // namespace

double CopyBandwidthGBs(int64_t bytes, int threads, int reps) {
  const int64_t n = bytes / 4;
  auto a = AlignedFloats::Allocate(n);
  auto c = AlignedFloats::Allocate(n);
  if (!a.ok() || !c.ok()) return 0.0;
  ThreadTeam team(threads);
  // First touch from the team, so pages land where the threads run.
  team.Run([&] {
    ForChunks(n, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) a->data()[i] = 1.0f, c->data()[i] = 0.0f;
    });
  });
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = Clock::now();
    team.Run([&] {
      ForChunks(n, [&](int64_t b, int64_t e) {
        std::memcpy(c->data() + b, a->data() + b, sizeof(float) * (e - b));
      });
    });
    best = std::min(best, Seconds(t0, Clock::now()));
  }
  return 2.0 * n * 4 / best / 1e9;
}

double ReadBandwidthGBs(int64_t bytes, int threads, int reps) {
  const int64_t n = bytes / 4 / simd::kLanes * simd::kLanes;
  auto a = AlignedFloats::Allocate(n);
  if (!a.ok()) return 0.0;
  ThreadTeam team(threads);
  team.Run([&] {
    ForChunks(n, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) a->data()[i] = 1e-3f;
    });
  });
  std::vector<float> sink(threads, 0.0f);
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = Clock::now();
    team.Run([&] {
      ForChunks(n / simd::kLanes, [&](int64_t b, int64_t e) {
        simd::VecF acc[4] = {simd::VZero(), simd::VZero(), simd::VZero(), simd::VZero()};
        const float* p = a->data();
        int64_t i = b;
        for (; i + 4 <= e; i += 4) {
          for (int j = 0; j < 4; ++j) {
            acc[j] = simd::VFma(simd::VLoad(p + (i + j) * simd::kLanes), simd::VSet1(1.0f), acc[j]);
          }
        }
        for (; i < e; ++i)
          acc[0] = simd::VFma(simd::VLoad(p + i * simd::kLanes), simd::VSet1(1.0f), acc[0]);
        sink[CurrentTeamMember().index] +=
            simd::VSum(acc[0]) + simd::VSum(acc[1]) + simd::VSum(acc[2]) + simd::VSum(acc[3]);
      });
    });
    best = std::min(best, Seconds(t0, Clock::now()));
  }
  volatile float keep = sink[0];
  (void)keep;
  return static_cast<double>(n) * 4 / best / 1e9;
}

double FmaPeakGFlops(int threads) {
  constexpr int kChains = 12;  // > latency x ports, so the FMA units never wait
  constexpr int64_t kIters = 20'000'000;
  std::vector<float> sink(threads, 0.0f);
  ThreadTeam team(threads);
  double best = 1e30;
  for (int r = 0; r < 3; ++r) {
    const auto t0 = Clock::now();
    team.Run([&] {
      simd::VecF acc[kChains];
      for (int j = 0; j < kChains; ++j) acc[j] = simd::VSet1(static_cast<float>(j));
      const simd::VecF m = simd::VSet1(0.999999f), add = simd::VSet1(1e-7f);
      for (int64_t i = 0; i < kIters / threads; ++i) {
#pragma GCC unroll 12
        for (int j = 0; j < kChains; ++j) acc[j] = simd::VFma(acc[j], m, add);
      }
      float s = 0.0f;
      for (int j = 0; j < kChains; ++j) s += simd::VSum(acc[j]);
      sink[CurrentTeamMember().index] = s;
    });
    best = std::min(best, Seconds(t0, Clock::now()));
  }
  volatile float keep = sink[0];
  (void)keep;
  return 2.0 * simd::kLanes * kChains * static_cast<double>(kIters / threads * threads) / best /
         1e9;
}

}  // namespace corvid::bench
