#include "services/tokenizer/tokenizer_flags.h"

#include <thread>

#include "engine/status_macros.h"

namespace corvid::tokenizer_service {

TokenizerFlags::TokenizerFlags() {
  server.listen = "0.0.0.0:50051";
  server.metrics_port = 9091;
}

void RegisterTokenizerFlags(service::FlagSet& flags, TokenizerFlags* v) {
  service::RegisterServerFlags(flags, &v->server);
  flags.AddRepeated("model", &v->models,
                    "NAME=DIR: serve the tokenizer in DIR (tokenizer.json or tokenizer.model) "
                    "as NAME; the first is the default model");
  flags.AddInt("workers", &v->workers, "threads for Encode/Decode/CountTokens (0: one per core)");
  flags.AddInt("max-queued-calls", &v->max_queued_calls,
               "calls that may wait for a worker; more are refused with RESOURCE_EXHAUSTED");
  flags.AddInt("max-texts-per-batch", &v->limits.max_texts_per_batch,
               "texts per Encode/CountTokens, sequences per Decode");
  flags.AddInt("max-bytes-per-text", &v->limits.max_bytes_per_text, "bytes of one text");
  flags.AddInt("max-ids-per-batch", &v->limits.max_ids_per_batch,
               "ids in one Decode or DetokenizeStream message or one Encode reply");
  flags.AddInt("max-sequences-per-stream", &v->limits.max_sequences_per_stream,
               "live sequences on one DetokenizeStream");
}

absl::StatusOr<TokenizerServerConfig> ToConfig(const TokenizerFlags& flags) {
  TokenizerServerConfig config;
  config.server = flags.server;
  RETURN_IF_ERROR(service::ValidateServerFlags(config.server));
  if (flags.models.empty()) {
    return absl::InvalidArgumentError("no model: give --model NAME=DIR (repeatable)");
  }
  for (const std::string& text : flags.models) {
    ASSIGN_OR_RETURN(ModelSpec spec, ParseModelSpec(text));
    config.models.push_back(std::move(spec));
  }
  if (flags.workers < 0 || flags.workers > 1024) {
    return absl::InvalidArgumentError("--workers: expected 0..1024");
  }
  if (flags.max_queued_calls < 0 || flags.max_queued_calls > (1 << 20)) {
    return absl::InvalidArgumentError("--max-queued-calls: expected 0..1048576");
  }
  int hw = static_cast<int>(std::thread::hardware_concurrency());
  config.service.worker_threads =
      flags.workers > 0 ? static_cast<int>(flags.workers) : (hw > 0 ? hw : 1);
  config.service.max_queued_calls = static_cast<int>(flags.max_queued_calls);
  config.service.limits = flags.limits;
  config.service.limits.max_message_bytes = flags.server.max_message_bytes;
  RETURN_IF_ERROR(ValidateLimits(config.service.limits));
  return config;
}

}  // namespace corvid::tokenizer_service
