// corvid-tokenizer's flags (besides those every service shares) and their translation into a
// TokenizerServerConfig.
#ifndef CORVID_SERVICES_TOKENIZER_TOKENIZER_FLAGS_H_
#define CORVID_SERVICES_TOKENIZER_TOKENIZER_FLAGS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "services/common/flags.h"
#include "services/common/server_flags.h"
#include "services/tokenizer/tokenizer_server.h"

namespace corvid::tokenizer_service {

struct TokenizerFlags {
  service::ServerFlags server;
  std::vector<std::string> models;  // NAME=DIR
  int64_t workers = 0;              // 0: one per hardware thread
  int64_t max_queued_calls = 1024;
  Limits limits;

  TokenizerFlags();
};

void RegisterTokenizerFlags(service::FlagSet& flags, TokenizerFlags* values);

// Parses the model specs and checks every value. INVALID_ARGUMENT names the flag.
absl::StatusOr<TokenizerServerConfig> ToConfig(const TokenizerFlags& flags);

}  // namespace corvid::tokenizer_service

#endif  // CORVID_SERVICES_TOKENIZER_TOKENIZER_FLAGS_H_
