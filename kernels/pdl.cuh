// Programmatic dependent launch (Hopper, sm_90+): a kernel launched with LaunchPdl may be
// scheduled while the kernel before it on the stream is still finishing, so its launch latency
// and block setup hide behind that kernel's tail (also inside a captured CUDA graph, where the
// launch becomes a programmatic edge). Such a kernel must call WaitForPrimary() before it reads
// anything the previous kernel writes (or writes anything it reads): that waits for the previous
// grid to complete and its memory to be visible. Kernels of other libraries (cuBLAS) are never
// launched this way, since nothing says they wait. CORVID_PDL=0 turns it off (A/B timing).
#ifndef CORVID_KERNELS_PDL_CUH_
#define CORVID_KERNELS_PDL_CUH_

#include <cuda_runtime.h>

#include <cstdlib>
#include <cstring>
#include <utility>

#include "kernels/cuda_utils.cuh"

namespace corvid::kernels {

__device__ __forceinline__ void WaitForPrimary() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

// Lets the next kernel (when launched with LaunchPdl) start once every block of this one has
// called it or exited; what that kernel reads before its WaitForPrimary must not be written here.
__device__ __forceinline__ void TriggerDependents() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

// The short kernels between two GEMMs (RMSNorm, SiLU*mul) wait for the GEMM before them and
// let the GEMM after them start. With `early` they let it start before their own wait, so that
// GEMM's blocks can take the SMs the GEMM before frees and stream their first weight stages
// during its tail (DRAM would otherwise idle from that tail to the next GEMM's first bytes).
// Safe because a dependent reads nothing mutable before its own wait, and that wait covers this
// kernel's completion, which covers the kernel before (docs/cuda.md). Without `early`: trigger
// after the wait, the earlier behaviour (CORVID_PDL_EARLY=0, A/B timing).
__device__ __forceinline__ void WaitThenRelease(int early) {
  if (early) TriggerDependents();
  WaitForPrimary();
  if (!early) TriggerDependents();
}

// Whether a kernel of `rows` activation rows releases early (WaitThenRelease): in steps of at
// least CORVID_PDL_EARLY rows (default 1, every step; 0 never; read once per process). At
// batch 8 it saved 0.10 ms per decode step in one same-run A/B; batch 1 moved by +-0.03 ms
// either way in two (docs/perf.md, session 6).
inline bool PdlEarlyRelease(int rows) {
  static const int min_rows = [] {
    const char* env = std::getenv("CORVID_PDL_EARLY");
    return env != nullptr ? std::atoi(env) : 1;
  }();
  return min_rows > 0 && rows >= min_rows;
}

// True on devices of compute capability 9.0+ unless CORVID_PDL=0 (read once per process).
inline bool PdlEnabled() {
  static const bool enabled = [] {
    const char* env = std::getenv("CORVID_PDL");
    if (env != nullptr && std::strcmp(env, "0") == 0) return false;
    int device = 0, major = 0;
    if (cudaGetDevice(&device) != cudaSuccess ||
        cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess) {
      cudaGetLastError();
      return false;
    }
    return major >= 9;
  }();
  return enabled;
}

template <typename... Params, typename... Args>
KernelError LaunchPdl(void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem,
                      cudaStream_t stream, Args&&... args) {
  cudaLaunchConfig_t config = {};
  config.gridDim = grid;
  config.blockDim = block;
  config.dynamicSmemBytes = smem;
  config.stream = stream;
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[0].val.programmaticStreamSerializationAllowed = 1;
  config.attrs = attr;
  config.numAttrs = PdlEnabled() ? 1 : 0;
  return static_cast<KernelError>(cudaLaunchKernelEx(&config, kernel, std::forward<Args>(args)...));
}

}  // namespace corvid::kernels

#endif  // CORVID_KERNELS_PDL_CUH_
