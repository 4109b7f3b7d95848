// Structured logs: one JSON object per line on stderr, e.g.
//   {"ts":"2025-01-01T12:00:00.123456Z","level":"info","service":"corvid-tokenizer",
//    "msg":"model loaded","model":"llama3","ms":812}
// so that log collectors (Loki, Cloud Logging, ...) index the fields without parsing text.
// gRPC's own log lines are routed through the same logger.
#ifndef CORVID_SERVICES_COMMON_LOGGING_H_
#define CORVID_SERVICES_COMMON_LOGGING_H_

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"

namespace corvid::service {

// One field value, already rendered as JSON.
class LogValue {
 public:
  LogValue(std::string_view s);  // NOLINT: implicit so call sites stay terse
  LogValue(const char* s) : LogValue(std::string_view(s)) {}         // NOLINT
  LogValue(const std::string& s) : LogValue(std::string_view(s)) {}  // NOLINT
  LogValue(bool b) : json_(b ? "true" : "false") {}                  // NOLINT
  LogValue(int v) : json_(std::to_string(v)) {}                      // NOLINT
  LogValue(long v) : json_(std::to_string(v)) {}                     // NOLINT
  LogValue(long long v) : json_(std::to_string(v)) {}                // NOLINT
  LogValue(unsigned v) : json_(std::to_string(v)) {}                 // NOLINT
  LogValue(unsigned long v) : json_(std::to_string(v)) {}            // NOLINT
  LogValue(unsigned long long v) : json_(std::to_string(v)) {}       // NOLINT
  LogValue(double v);                                                // NOLINT
  const std::string& json() const { return json_; }

 private:
  std::string json_;
};

using LogFields = std::initializer_list<std::pair<std::string_view, LogValue>>;

enum class LogLevel { kDebug, kInfo, kWarning, kError };

// Sets up the process logger: `service` is written into every line; `level` is one of
// debug|info|warning|error (INVALID_ARGUMENT otherwise). Safe to call again (tests).
absl::Status InitLogging(std::string_view service, std::string_view level);

void Log(LogLevel level, std::string_view msg, LogFields fields = {});
inline void LogDebug(std::string_view msg, LogFields fields = {}) {
  Log(LogLevel::kDebug, msg, fields);
}
inline void LogInfo(std::string_view msg, LogFields fields = {}) {
  Log(LogLevel::kInfo, msg, fields);
}
inline void LogWarning(std::string_view msg, LogFields fields = {}) {
  Log(LogLevel::kWarning, msg, fields);
}
inline void LogError(std::string_view msg, LogFields fields = {}) {
  Log(LogLevel::kError, msg, fields);
}

// The line Log would write after the timestamp/level/service prefix (exposed for tests).
std::string FormatLogFields(std::string_view msg, LogFields fields);

}  // namespace corvid::service

#endif  // CORVID_SERVICES_COMMON_LOGGING_H_
