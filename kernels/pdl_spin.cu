// See pdl_spin.h.
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/pdl.cuh"
#include "kernels/pdl_spin.h"

namespace corvid::kernels {
namespace {

__device__ __forceinline__ uint64_t GlobalNanos() {
  uint64_t t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}

__global__ void PdlSpinKernel(int nanoseconds) {
  WaitForPrimary();
  TriggerDependents();
  const uint64_t end = GlobalNanos() + static_cast<uint64_t>(nanoseconds);
  while (GlobalNanos() < end) {
  }
}

}  // namespace

KernelError LaunchPdlSpin(int nanoseconds, StreamHandle stream) {
  return LaunchPdl(PdlSpinKernel, dim3(1), dim3(32), 0, AsStream(stream), nanoseconds);
}

}  // namespace corvid::kernels
