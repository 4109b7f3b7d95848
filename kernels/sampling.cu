// On-device logits processing and sampling (see sampling.h and engine/sampler.h).
//
// One block per sampled row. The kept set of top-k / top-p / min-p is always a prefix of the
// order (z desc, id asc), so every filter reduces to finding a boundary key in that order. A
// 64-bit key (order-preserving bits of z, then the inverted id) makes the order total; the
// boundary is found by radix selection (8 passes of 8 bits) over counts or over weights in
// 2^-40 fixed point. Integer sums make the result independent of thread scheduling, and the
// weights' rounding error is far below that of the CPU's double sums' inputs.
#include "kernels/cuda_utils.cuh"
#include "kernels/rng.h"
#include "kernels/sampling.h"

namespace corvid::kernels {
namespace {

constexpr int kThreads = 1024;
constexpr float kMassScale = 1099511627776.0f;  // 2^40

__device__ __forceinline__ uint64_t OrderKey(float z, int id) {
  if (isnan(z)) z = -INFINITY;
  if (z == 0.0f) z = 0.0f;  // -0 and +0 compare equal on the host: same key
  const uint32_t b = __float_as_uint(z);
  const uint32_t k = (b & 0x80000000u) ? ~b : (b | 0x80000000u);
  return (static_cast<uint64_t>(k) << 32) | (0xFFFFFFFFu - static_cast<uint32_t>(id));
}

__device__ __forceinline__ int KeyId(uint64_t key) {
  return static_cast<int>(0xFFFFFFFFu - static_cast<uint32_t>(key));
}

__device__ __forceinline__ uint64_t WarpMaxU64(uint64_t v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const uint64_t other = __shfl_xor_sync(0xffffffffu, v, o);
    v = other > v ? other : v;
  }
  return v;
}

__device__ __forceinline__ uint64_t WarpMinU64(uint64_t v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const uint64_t other = __shfl_xor_sync(0xffffffffu, v, o);
    v = other < v ? other : v;
  }
  return v;
}

__device__ __forceinline__ uint64_t WarpSumU64(uint64_t v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// op 0: max, 1: min, 2: sum. Every thread gets the result.
__device__ uint64_t BlockReduceU64(uint64_t v, int op, uint64_t* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  v = op == 0 ? WarpMaxU64(v) : (op == 1 ? WarpMinU64(v) : WarpSumU64(v));
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  uint64_t r = scratch[0];
  for (int w = 1; w < static_cast<int>(blockDim.x >> 5); ++w) {
    const uint64_t x = scratch[w];
    r = op == 0 ? (x > r ? x : r) : (op == 1 ? (x < r ? x : r) : r + x);
  }
  return r;
}

// A row's scaled logits z = x / temperature and weights exp(z - z_max) (host formula).
struct RowView {
  const float* x;
  int vocab;
  float temperature;
  float z_max;
  __device__ float Z(int i) const {
    const float z = x[i] / temperature;
    return isnan(z) ? -INFINITY : z;
  }
  __device__ float W(float z) const { return z == z_max ? 1.0f : expf(z - z_max); }
  __device__ uint64_t Mass(float z) const {
    return static_cast<uint64_t>(__float2ull_rn(W(z) * kMassScale));
  }
};

struct SelectSmem {
  uint32_t count[256];
  unsigned long long mass[256];
  uint64_t scratch[32];
  uint64_t remaining;
  int chosen;
};

// Adds (count 1, mass) of this lane's element to its bin, one atomic per group of lanes that
// share a bin. Must be reached by all lanes of the warp.
__device__ __forceinline__ void AggregateToBin(bool valid, uint32_t bin, uint64_t mass,
                                               SelectSmem* sm) {
  const unsigned peers = __match_any_sync(0xffffffffu, valid ? bin : 0xFFFFFFFFu);
  if (!valid) return;
  const uint32_t hi = __reduce_add_sync(peers, static_cast<uint32_t>(mass >> 20));
  const uint32_t lo = __reduce_add_sync(peers, static_cast<uint32_t>(mass & 0xFFFFFu));
  if ((threadIdx.x & 31) == __ffs(peers) - 1) {
    atomicAdd(&sm->count[bin], static_cast<uint32_t>(__popc(peers)));
    atomicAdd(&sm->mass[bin], (static_cast<unsigned long long>(hi) << 20) + lo);
  }
}

// The key of the element that ends the shortest prefix (within keys >= limit) whose count
// reaches `target` (by_mass false) or whose mass reaches (>=) or exceeds (> when strict)
// `target`. When rounding leaves no such prefix, the last element of the set.
__device__ uint64_t RadixSelect(const RowView& row, uint64_t limit, bool by_mass, bool strict,
                                uint64_t target, SelectSmem* sm) {
  uint64_t prefix = 0, mask = 0;
  if (threadIdx.x == 0) sm->remaining = target;
  for (int shift = 56; shift >= 0; shift -= 8) {
    for (int b = threadIdx.x; b < 256; b += blockDim.x) {
      sm->count[b] = 0;
      sm->mass[b] = 0;
    }
    __syncthreads();
    for (int base = 0; base < row.vocab; base += blockDim.x) {
      const int i = base + threadIdx.x;
      bool valid = false;
      uint32_t bin = 0;
      uint64_t mass = 0;
      if (i < row.vocab) {
        const float z = row.Z(i);
        const uint64_t key = OrderKey(z, i);
        valid = key >= limit && (key & mask) == prefix;
        bin = static_cast<uint32_t>(key >> shift) & 255u;
        if (valid && by_mass) mass = row.Mass(z);
      }
      AggregateToBin(valid, bin, mass, sm);
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      const uint64_t rem = sm->remaining;
      uint64_t cum = 0;
      int chosen = -1, last = -1;
      for (int b = 255; b >= 0; --b) {
        if (sm->count[b] == 0) continue;
        const uint64_t add = by_mass ? sm->mass[b] : sm->count[b];
        last = b;
        const uint64_t next = cum + add;
        if (strict ? next > rem : next >= rem) {
          chosen = b;
          break;
        }
        cum = next;
      }
      if (chosen < 0) {
        // Rounding put the target past the set's total: descend to its smallest key.
        chosen = last;
        sm->remaining = ~0ull;
      } else {
        sm->remaining = rem - cum;
      }
      sm->chosen = chosen < 0 ? 0 : chosen;
    }
    __syncthreads();
    prefix |= static_cast<uint64_t>(sm->chosen) << shift;
    mask |= 0xFFull << shift;
  }
  return prefix;
}

__global__ void __launch_bounds__(kThreads)
    LogprobsKernel(const float* logits, int vocab, const SamplingRow* rows,
                   SampleResult* results) {
  __shared__ float fscratch[32];
  __shared__ uint64_t uscratch[32];
  const SamplingRow& r = rows[blockIdx.x];
  const float* x = logits + static_cast<int64_t>(r.logits_row) * vocab;
  float m = -INFINITY;
  for (int i = threadIdx.x; i < vocab; i += blockDim.x) m = fmaxf(m, x[i]);
  m = BlockMax(m, fscratch);
  float lse = m;
  if (!isinf(m)) {
    float sum = 0.0f;
    for (int i = threadIdx.x; i < vocab; i += blockDim.x) sum += expf(x[i] - m);
    lse = m + logf(BlockSum(sum, fscratch));
  }
  SampleResult& out = results[blockIdx.x];
  const int n = min(min(r.num_top_logprobs, kMaxTopLogprobs), vocab);
  uint64_t prev = ~0ull;
  for (int j = 0; j < n; ++j) {
    uint64_t best = 0;
    for (int i = threadIdx.x; i < vocab; i += blockDim.x) {
      const uint64_t key = OrderKey(x[i], i);
      if (key < prev && key > best) best = key;
    }
    best = BlockReduceU64(best, 0, uscratch);
    if (threadIdx.x == 0) {
      const int id = KeyId(best);
      out.top_ids[j] = id;
      out.top_logprobs[j] = x[id] - lse;
    }
    prev = best;
  }
  if (threadIdx.x == 0) {
    out.num_top = n;
    out.lse = lse;
  }
}

__global__ void PenaltiesKernel(float* logits, int vocab, const SamplingRow* rows,
                                PenaltyEntry* entries, int num_entries) {
  const int e = blockIdx.x * blockDim.x + threadIdx.x;
  if (e >= num_entries) return;
  PenaltyEntry& entry = entries[e];
  const SamplingRow& r = rows[entry.row];
  if (entry.token < 0 || entry.token >= vocab) return;
  float* x = logits + static_cast<int64_t>(r.logits_row) * vocab + entry.token;
  float v = *x;
  entry.raw = v;
  if (r.repetition_penalty != 1.0f && entry.in_history) {
    v = v > 0.0f ? __fdiv_rn(v, r.repetition_penalty) : __fmul_rn(v, r.repetition_penalty);
  }
  if ((r.presence_penalty != 0.0f || r.frequency_penalty != 0.0f) && entry.output_count > 0) {
    const float c = static_cast<float>(entry.output_count);
    v = __fsub_rn(v, __fadd_rn(__fmul_rn(r.frequency_penalty, c), r.presence_penalty));
  }
  *x = v;
}

__device__ int DrawFiltered(const SamplingRow& r, const float* x, int vocab, SelectSmem* sm,
                            float* fscratch) {
  RowView row{x, vocab, r.temperature, -INFINITY};
  float z_max = -INFINITY;
  for (int i = threadIdx.x; i < vocab; i += blockDim.x) z_max = fmaxf(z_max, row.Z(i));
  row.z_max = BlockMax(z_max, fscratch);

  uint64_t limit = 0;  // keys >= limit are kept
  if (r.top_k > 0 && r.top_k < vocab) {
    limit = RadixSelect(row, 0, false, false, static_cast<uint64_t>(r.top_k), sm);
  }
  uint64_t mass = 0, min_key = ~0ull;
  if (r.top_p < 1.0f) {
    for (int i = threadIdx.x; i < vocab; i += blockDim.x) {
      const float z = row.Z(i);
      if (OrderKey(z, i) >= limit) mass += row.Mass(z);
    }
    mass = BlockReduceU64(mass, 2, sm->scratch);
    const uint64_t target =
        static_cast<uint64_t>(static_cast<double>(r.top_p) * static_cast<double>(mass));
    const uint64_t key_p = RadixSelect(row, limit, true, false, target, sm);
    limit = key_p > limit ? key_p : limit;
  }
  if (r.min_p > 0.0f) {
    for (int i = threadIdx.x; i < vocab; i += blockDim.x) {
      const float z = row.Z(i);
      const uint64_t key = OrderKey(z, i);
      if (row.W(z) >= r.min_p && key < min_key) min_key = key;
    }
    min_key = BlockReduceU64(min_key, 1, sm->scratch);
    limit = min_key > limit ? min_key : limit;
  }
  mass = 0;
  for (int i = threadIdx.x; i < vocab; i += blockDim.x) {
    const float z = row.Z(i);
    if (OrderKey(z, i) >= limit) mass += row.Mass(z);
  }
  mass = BlockReduceU64(mass, 2, sm->scratch);
  const float u = UniformFloat(r.seed, r.counter);
  const uint64_t target =
      static_cast<uint64_t>(static_cast<double>(u) * static_cast<double>(mass));
  return KeyId(RadixSelect(row, limit, true, true, target, sm));
}

__global__ void __launch_bounds__(kThreads)
    SampleKernel(const float* logits, int vocab, const SamplingRow* rows,
                 const PenaltyEntry* entries, SampleResult* results) {
  __shared__ SelectSmem sm;
  __shared__ float fscratch[32];
  const SamplingRow& r = rows[blockIdx.x];
  const float* x = logits + static_cast<int64_t>(r.logits_row) * vocab;
  int token;
  if (r.temperature == 0.0f) {
    // A max is exact in any order; 16-byte loads, several in flight (decode at batch 1 waits
    // on this pass over the vocabulary).
    uint64_t best = 0;
    int tail = 0;
    if (vocab % 4 == 0 && reinterpret_cast<uintptr_t>(x) % 16 == 0) {
      const float4* x4 = reinterpret_cast<const float4*>(x);
      tail = vocab;
#pragma unroll 4
      for (int i = threadIdx.x; i < vocab / 4; i += blockDim.x) {
        const float4 v = x4[i];
        const uint64_t k0 = OrderKey(v.x, 4 * i), k1 = OrderKey(v.y, 4 * i + 1);
        const uint64_t k2 = OrderKey(v.z, 4 * i + 2), k3 = OrderKey(v.w, 4 * i + 3);
        const uint64_t a = k0 > k1 ? k0 : k1, b = k2 > k3 ? k2 : k3;
        const uint64_t m = a > b ? a : b;
        best = m > best ? m : best;
      }
    }
    for (int i = tail + threadIdx.x; i < vocab; i += blockDim.x) {
      const uint64_t key = OrderKey(x[i], i);
      best = key > best ? key : best;
    }
    token = KeyId(BlockReduceU64(best, 0, sm.scratch));
  } else {
    token = DrawFiltered(r, x, vocab, &sm, fscratch);
  }
  if (threadIdx.x != 0) return;
  float raw = x[token];
  for (int e = r.penalty_begin; e < r.penalty_end; ++e) {
    if (entries[e].token == token) raw = entries[e].raw;
  }
  SampleResult& out = results[blockIdx.x];
  out.token = token;
  out.logprob = raw - out.lse;
}

}  // namespace

KernelError LaunchLogprobs(const float* logits, int vocab, const SamplingRow* rows, int num_rows,
                           SampleResult* results, StreamHandle stream) {
  if (num_rows == 0) return kKernelOk;
  LogprobsKernel<<<num_rows, kThreads, 0, AsStream(stream)>>>(logits, vocab, rows, results);
  return LastLaunchError();
}

KernelError LaunchPenalties(float* logits, int vocab, const SamplingRow* rows,
                            PenaltyEntry* entries, int num_entries, StreamHandle stream) {
  if (num_entries == 0) return kKernelOk;
  PenaltiesKernel<<<(num_entries + 255) / 256, 256, 0, AsStream(stream)>>>(logits, vocab, rows,
                                                                           entries, num_entries);
  return LastLaunchError();
}

KernelError LaunchSample(const float* logits, int vocab, const SamplingRow* rows, int num_rows,
                         const PenaltyEntry* entries, SampleResult* results,
                         StreamHandle stream) {
  if (num_rows == 0) return kKernelOk;
  SampleKernel<<<num_rows, kThreads, 0, AsStream(stream)>>>(logits, vocab, rows, entries,
                                                            results);
  return LastLaunchError();
}

}  // namespace corvid::kernels
