#include "services/scheduler/request_validation.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "engine/status_macros.h"

namespace corvid::scheduler {
namespace {

absl::Status Bad(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
}

// lo/hi inclusive unless the *_open flag says otherwise; NaN always fails.
absl::Status CheckRange(absl::string_view field, float v, float lo, float hi,
                        bool lo_open = false) {
  bool ok = std::isfinite(v) && (lo_open ? v > lo : v >= lo) && v <= hi;
  if (ok) return absl::OkStatus();
  return Bad(field, absl::StrCat("must be in ", lo_open ? "(" : "[", lo, ", ", hi, "], got ", v));
}

absl::Status ResolveSampling(const v1::SamplingParameters& in, v1::WorkerSampling* out) {
  out->set_temperature(in.has_temperature() ? in.temperature() : 1.0f);
  RETURN_IF_ERROR(CheckRange("sampling.temperature", out->temperature(), 0, 100));
  out->set_top_k(in.has_top_k() ? in.top_k() : 0);
  if (out->top_k() < 0) return Bad("sampling.top_k", absl::StrCat("must be >= 0, got ", in.top_k()));
  out->set_top_p(in.has_top_p() ? in.top_p() : 1.0f);
  RETURN_IF_ERROR(CheckRange("sampling.top_p", out->top_p(), 0, 1, /*lo_open=*/true));
  out->set_min_p(in.has_min_p() ? in.min_p() : 0.0f);
  RETURN_IF_ERROR(CheckRange("sampling.min_p", out->min_p(), 0, 1));
  out->set_repetition_penalty(in.has_repetition_penalty() ? in.repetition_penalty() : 1.0f);
  RETURN_IF_ERROR(CheckRange("sampling.repetition_penalty", out->repetition_penalty(), 0, 10,
                             /*lo_open=*/true));
  out->set_presence_penalty(in.has_presence_penalty() ? in.presence_penalty() : 0.0f);
  RETURN_IF_ERROR(CheckRange("sampling.presence_penalty", out->presence_penalty(), -2, 2));
  out->set_frequency_penalty(in.has_frequency_penalty() ? in.frequency_penalty() : 0.0f);
  RETURN_IF_ERROR(CheckRange("sampling.frequency_penalty", out->frequency_penalty(), -2, 2));
  return absl::OkStatus();
}

absl::Status CheckStops(const v1::GenerateRequest& request, const ModelLimits& limits,
                        ResolvedRequest* out) {
  if (request.stop_size() > kMaxStopStrings) {
    return Bad("stop", absl::StrCat("at most ", kMaxStopStrings, " strings, got ",
                                    request.stop_size()));
  }
  for (int i = 0; i < request.stop_size(); ++i) {
    const std::string& s = request.stop(i);
    std::string field = absl::StrCat("stop[", i, "]");
    if (s.empty()) return Bad(field, "must not be empty");
    if (s.size() > kMaxStopStringBytes) {
      return Bad(field, absl::StrCat("at most ", kMaxStopStringBytes, " bytes, got ", s.size()));
    }
    if (!IsValidUtf8(s)) return Bad(field, "invalid UTF-8");
    out->stops.push_back(s);
  }
  if (request.stop_token_ids_size() > kMaxStopTokenIds) {
    return Bad("stop_token_ids", absl::StrCat("at most ", kMaxStopTokenIds, " ids, got ",
                                              request.stop_token_ids_size()));
  }
  for (int i = 0; i < request.stop_token_ids_size(); ++i) {
    int32_t id = request.stop_token_ids(i);
    if (id < 0 || id >= limits.vocab_size) {
      return Bad(absl::StrCat("stop_token_ids[", i, "]"),
                 absl::StrCat("token id ", id, " out of range [0, ", limits.vocab_size, ")"));
    }
    out->stop_token_ids.push_back(id);
  }
  return absl::OkStatus();
}

absl::Status CheckPromptField(const v1::GenerateRequest& request, const ModelLimits& limits) {
  switch (request.prompt_case()) {
    case v1::GenerateRequest::kText:
      if (request.text().empty()) return Bad("text", "the prompt must not be empty");
      if (request.text().size() > kMaxPromptTextBytes) {
        return Bad("text", absl::StrCat("at most ", kMaxPromptTextBytes, " bytes, got ",
                                        request.text().size()));
      }
      if (!IsValidUtf8(request.text())) return Bad("text", "invalid UTF-8");
      return absl::OkStatus();
    case v1::GenerateRequest::kTokenIds:
      if (request.token_ids().ids_size() == 0) {
        return Bad("token_ids", "the prompt must not be empty");
      }
      return absl::OkStatus();
    default:
      return Bad("prompt", "one of text or token_ids must be set");
  }
}

}  // namespace

absl::StatusOr<ResolvedRequest> ValidateRequest(const v1::GenerateRequest& request,
                                                const ModelLimits& limits) {
  if (!request.model().empty() && request.model() != limits.name) {
    return absl::NotFoundError(absl::StrCat("model: unknown model '", request.model(),
                                            "'; served: '", limits.name, "'"));
  }
  ResolvedRequest out;
  RETURN_IF_ERROR(CheckPromptField(request, limits));
  out.text_prompt = request.prompt_case() == v1::GenerateRequest::kText;
  if (!out.text_prompt && request.has_add_special_tokens()) {
    return Bad("add_special_tokens", "only applies to a text prompt");
  }
  out.add_special_tokens = !request.has_add_special_tokens() || request.add_special_tokens();
  RETURN_IF_ERROR(ResolveSampling(request.sampling(), &out.sampling));
  out.has_seed = request.has_seed();
  if (out.has_seed) out.sampling.set_seed(request.seed());
  if (request.has_max_tokens()) {
    if (request.max_tokens() < 1 ||
        request.max_tokens() >= static_cast<uint32_t>(limits.context_length)) {
      return Bad("max_tokens", absl::StrCat("must be in [1, ", limits.context_length - 1,
                                            "], got ", request.max_tokens()));
    }
    out.max_tokens = static_cast<int>(request.max_tokens());
  }
  RETURN_IF_ERROR(CheckStops(request, limits, &out));
  out.ignore_eos = request.ignore_eos();
  if (request.top_logprobs() > static_cast<uint32_t>(kMaxTopLogprobs)) {
    return Bad("top_logprobs", absl::StrCat("must be in [0, ", kMaxTopLogprobs, "], got ",
                                            request.top_logprobs()));
  }
  if (request.top_logprobs() > 0 && !request.logprobs()) {
    return Bad("top_logprobs", "needs logprobs = true");
  }
  out.sampling.set_logprobs(request.logprobs());
  out.sampling.set_top_logprobs(request.top_logprobs());
  if (!v1::Priority_IsValid(request.priority())) {
    return Bad("priority", absl::StrCat("unknown value ", request.priority()));
  }
  out.priority = request.priority() == v1::PRIORITY_UNSPECIFIED
                     ? QueueClass::kNormal
                     : static_cast<QueueClass>(request.priority());
  if (request.request_id().size() > kMaxRequestIdBytes) {
    return Bad("request_id", absl::StrCat("at most ", kMaxRequestIdBytes, " bytes"));
  }
  if (!IsValidUtf8(request.request_id())) return Bad("request_id", "invalid UTF-8");
  out.request_id = request.request_id();
  return out;
}

absl::Status CheckPrompt(const std::vector<int32_t>& prompt, const ResolvedRequest& request,
                         const ModelLimits& limits) {
  absl::string_view field = request.text_prompt ? "text" : "token_ids";
  if (prompt.empty()) return Bad(field, "the prompt has no tokens");
  if (!request.text_prompt) {
    for (size_t i = 0; i < prompt.size(); ++i) {
      if (prompt[i] < 0 || prompt[i] >= limits.vocab_size) {
        return Bad(absl::StrCat("token_ids[", i, "]"),
                   absl::StrCat("token id ", prompt[i], " out of range [0, ", limits.vocab_size,
                                ")"));
      }
    }
  }
  int64_t total = static_cast<int64_t>(prompt.size()) + request.max_tokens;
  if (total > limits.context_length) {
    return Bad("max_tokens",
               absl::StrCat("prompt (", prompt.size(), " tokens) + max_tokens (",
                            request.max_tokens, ") exceeds the context length ",
                            limits.context_length));
  }
  return absl::OkStatus();
}

bool IsValidUtf8(absl::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = s[i];
    int n = c < 0x80 ? 0 : (c >> 5) == 0x6 ? 1 : (c >> 4) == 0xE ? 2 : (c >> 3) == 0x1E ? 3 : -1;
    if (n < 0 || i + n >= s.size() + (n == 0 ? 1 : 0)) return false;
    uint32_t cp = n == 0 ? c : c & (0x3F >> n);
    for (int k = 1; k <= n; ++k) {
      unsigned char cc = s[i + k];
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are invalid.
    static constexpr uint32_t kMin[4] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

}  // namespace corvid::scheduler
