// Per-request limits of corvid-tokenizer. A request beyond one fails with INVALID_ARGUMENT
// before any work is done (or, for output-side limits, instead of sending an oversized reply).
#ifndef CORVID_SERVICES_TOKENIZER_LIMITS_H_
#define CORVID_SERVICES_TOKENIZER_LIMITS_H_

#include <cstdint>

#include "absl/status/status.h"

namespace corvid::tokenizer_service {

struct Limits {
  int64_t max_texts_per_batch = 1024;       // texts per Encode/CountTokens, sequences per Decode
  int64_t max_bytes_per_text = 1 << 20;     // one text
  int64_t max_ids_per_batch = 1 << 20;      // ids in a Decode or DetokenizeStream message, and
                                            // ids an Encode reply may carry
  int64_t max_message_bytes = 16 << 20;     // gRPC message size, either direction; a Decode
                                            // reply's texts may fill half of it
  int64_t max_sequences_per_stream = 4096;  // live sequences on one DetokenizeStream, and
                                            // steps in one of its messages
};

// INVALID_ARGUMENT naming the flag of a non-positive limit.
absl::Status ValidateLimits(const Limits& limits);

}  // namespace corvid::tokenizer_service

#endif  // CORVID_SERVICES_TOKENIZER_LIMITS_H_
