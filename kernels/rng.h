// Counter-based random numbers shared by host and device code (Philox4x32-10, Salmon et al.,
// "Parallel random numbers: as easy as 1, 2, 3", SC'11).
//
// Why counter-based: a sampled token must depend only on (logits, params, seed, number of tokens
// the request has generated) and never on the batch it ran in, on which thread or CUDA block
// sampled it, or on how many draws other requests made. A stateless function of
// (seed, counter) gives exactly that, and the CPU and CUDA backends draw the same numbers.
#ifndef CORVID_KERNELS_RNG_H_
#define CORVID_KERNELS_RNG_H_

#include <cstdint>

#if defined(__CUDACC__)
#define CORVID_HOST_DEVICE __host__ __device__
#else
#define CORVID_HOST_DEVICE
#endif

namespace corvid {

struct Philox4x32Block {
  uint32_t v[4];
};

namespace rng_internal {

CORVID_HOST_DEVICE inline void MulHiLo32(uint32_t a, uint32_t b, uint32_t* hi, uint32_t* lo) {
  const uint64_t p = static_cast<uint64_t>(a) * static_cast<uint64_t>(b);
  *hi = static_cast<uint32_t>(p >> 32);
  *lo = static_cast<uint32_t>(p);
}

}  // namespace rng_internal

// The Philox4x32 bijection with 10 rounds, bit-identical to Random123's philox4x32_R(10, ...)
// (checked against its published known-answer vectors in tests/kernels/rng_test.cc).
CORVID_HOST_DEVICE inline Philox4x32Block Philox4x32_10(Philox4x32Block ctr, uint32_t key0,
                                                        uint32_t key1) {
  constexpr uint32_t kMul0 = 0xD2511F53u;
  constexpr uint32_t kMul1 = 0xCD9E8D57u;
  constexpr uint32_t kWeyl0 = 0x9E3779B9u;
  constexpr uint32_t kWeyl1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      key0 += kWeyl0;
      key1 += kWeyl1;
    }
    uint32_t hi0, lo0, hi1, lo1;
    rng_internal::MulHiLo32(kMul0, ctr.v[0], &hi0, &lo0);
    rng_internal::MulHiLo32(kMul1, ctr.v[2], &hi1, &lo1);
    Philox4x32Block next;
    next.v[0] = hi1 ^ ctr.v[1] ^ key0;
    next.v[1] = lo1;
    next.v[2] = hi0 ^ ctr.v[3] ^ key1;
    next.v[3] = lo0;
    ctr = next;
  }
  return ctr;
}

// Four independent 32-bit words for (seed, counter, stream). `stream` separates draws that
// share a counter (0 for the sampler's token draw).
CORVID_HOST_DEVICE inline Philox4x32Block RandomBits(uint64_t seed, uint64_t counter,
                                                     uint32_t stream = 0) {
  Philox4x32Block ctr;
  ctr.v[0] = static_cast<uint32_t>(counter);
  ctr.v[1] = static_cast<uint32_t>(counter >> 32);
  ctr.v[2] = stream;
  ctr.v[3] = 0;
  return Philox4x32_10(ctr, static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
}

// Uniform float in [0, 1) with 24 random bits: every value is a multiple of 2^-24, so the
// conversion is exact and identical on host and device.
CORVID_HOST_DEVICE inline float BitsToUniform(uint32_t bits) {
  return static_cast<float>(bits >> 8) * (1.0f / 16777216.0f);
}

CORVID_HOST_DEVICE inline float UniformFloat(uint64_t seed, uint64_t counter, uint32_t stream = 0) {
  return BitsToUniform(RandomBits(seed, counter, stream).v[0]);
}

}  // namespace corvid

#endif  // CORVID_KERNELS_RNG_H_
