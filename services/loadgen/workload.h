// What corvid-loadgen sends and when: request shapes (prompt and output lengths, from a file or
// from distributions) and arrival times (open loop: Poisson or bursty; closed loop: a fixed
// number of requests in flight).
#ifndef CORVID_SERVICES_LOADGEN_WORKLOAD_H_
#define CORVID_SERVICES_LOADGEN_WORKLOAD_H_

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace corvid::loadgen {

// A length distribution: "N" (fixed), "A:B" (uniform in [A, B]) or "normal:MEAN:STDDEV"
// (clamped to >= 1).
struct LengthDist {
  enum class Kind { kFixed, kUniform, kNormal } kind = Kind::kFixed;
  double a = 16, b = 16;
  static absl::StatusOr<LengthDist> Parse(const std::string& text);
  int Sample(std::mt19937_64& rng) const;
};

struct RequestSpec {
  std::string text;                 // a text prompt, or...
  std::vector<int32_t> prompt_ids;  // ...token ids (synthetic prompts)
  int max_tokens = 16;
  absl::Duration arrival;  // offset from the start (open loop only)
};

struct WorkloadOptions {
  int num_requests = 100;
  LengthDist input_len;
  LengthDist output_len;
  std::string prompt_file;  // JSONL {"prompt": str, "max_tokens": n} or plain lines; cycled
  int vocab_size = 512;     // synthetic prompt ids are drawn from [3, vocab_size)
  uint64_t seed = 1;
  // Open loop: mean arrival rate (requests/s); 0 = all at once. burst > 1 groups arrivals into
  // bursts of that many requests (same mean rate, Poisson-spaced bursts).
  double rate = 0;
  int burst = 1;
};

// Builds the requests with their arrival offsets (open loop); closed-loop runs ignore those.
absl::StatusOr<std::vector<RequestSpec>> BuildWorkload(const WorkloadOptions& options);

}  // namespace corvid::loadgen

#endif  // CORVID_SERVICES_LOADGEN_WORKLOAD_H_
