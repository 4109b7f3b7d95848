#include "services/tokenizer/limits.h"

#include "absl/strings/str_cat.h"

namespace corvid::tokenizer_service {

absl::Status ValidateLimits(const Limits& limits) {
  struct Named {
    const char* flag;
    int64_t value;
  };
  const Named all[] = {{"--max-texts-per-batch", limits.max_texts_per_batch},
                       {"--max-bytes-per-text", limits.max_bytes_per_text},
                       {"--max-ids-per-batch", limits.max_ids_per_batch},
                       {"--max-message-bytes", limits.max_message_bytes},
                       {"--max-sequences-per-stream", limits.max_sequences_per_stream}};
  for (const Named& n : all) {
    if (n.value <= 0 || n.value > (int64_t{1} << 31) - 1) {
      return absl::InvalidArgumentError(
          absl::StrCat(n.flag, "=", n.value, ": expected 1..2147483647"));
    }
  }
  return absl::OkStatus();
}

}  // namespace corvid::tokenizer_service
