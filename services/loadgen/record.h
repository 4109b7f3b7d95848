// What the load generator records about one request, and the clock it records it with.
#ifndef CORVID_SERVICES_LOADGEN_RECORD_H_
#define CORVID_SERVICES_LOADGEN_RECORD_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace corvid::loadgen {

// Monotonic nanoseconds (steady_clock); records hold differences of these only.
inline int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// One streamed message (or engine step) that carried tokens of a request.
struct TokenChunk {
  int64_t time_ns = 0;
  int32_t tokens = 0;
};

// Written by the driver (scheduled_ns, sent_ns) and then by the target, from one thread at a
// time: the target's writes happen before it calls the request's completion callback.
struct RequestRecord {
  int64_t scheduled_ns = 0;  // when the arrival process wanted it sent (closed loop: = sent_ns)
  int64_t sent_ns = 0;       // when the target was handed the request
  int64_t end_ns = 0;        // when its final status arrived
  std::vector<TokenChunk> chunks;
  int64_t prompt_tokens = 0;  // as the server counted them (0 when unknown)
  double deadline_ms = 0;     // the request's deadline, 0 = none
  absl::StatusCode code = absl::StatusCode::kUnknown;
  std::string error;  // the status message of a failed request

  int64_t output_tokens() const {
    int64_t n = 0;
    for (const TokenChunk& c : chunks) n += c.tokens;
    return n;
  }
};

}  // namespace corvid::loadgen

#endif  // CORVID_SERVICES_LOADGEN_RECORD_H_
