#include "services/common/logging.h"

#include <grpc/support/log.h>

#include <cmath>
#include <memory>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

namespace corvid::service {
namespace {

std::mutex g_mu;
std::shared_ptr<spdlog::logger> g_logger;  // guarded by g_mu for replacement only

std::string JsonString(std::string_view s) {
  // nlohmann escapes control characters; replace (not throw on) invalid UTF-8 from user input.
  return nlohmann::json(std::string(s))
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::shared_ptr<spdlog::logger> Logger() {
  std::lock_guard<std::mutex> lock(g_mu);
  if (!g_logger) {
    g_logger = std::make_shared<spdlog::logger>("corvid",
                                                std::make_shared<spdlog::sinks::stderr_sink_mt>());
    g_logger->set_pattern(R"({"ts":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l",%v})",
                          spdlog::pattern_time_type::utc);
  }
  return g_logger;
}

spdlog::level::level_enum ToSpd(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return spdlog::level::debug;
    case LogLevel::kInfo:
      return spdlog::level::info;
    case LogLevel::kWarning:
      return spdlog::level::warn;
    case LogLevel::kError:
      return spdlog::level::err;
  }
  return spdlog::level::info;
}

void GrpcLogToJson(gpr_log_func_args* args) {
  LogLevel level = args->severity == GPR_LOG_SEVERITY_ERROR  ? LogLevel::kError
                   : args->severity == GPR_LOG_SEVERITY_INFO ? LogLevel::kInfo
                                                             : LogLevel::kDebug;
  Log(level, args->message, {{"source", "grpc"}, {"file", args->file}, {"line", args->line}});
}

}  // namespace

LogValue::LogValue(std::string_view s) : json_(JsonString(s)) {}

LogValue::LogValue(double v) : json_(std::isfinite(v) ? absl::StrCat(v) : "null") {}

std::string FormatLogFields(std::string_view msg, LogFields fields) {
  std::string out = absl::StrCat("\"msg\":", JsonString(msg));
  for (const auto& [key, value] : fields) {
    absl::StrAppend(&out, ",", JsonString(key), ":", value.json());
  }
  return out;
}

absl::Status InitLogging(std::string_view service, std::string_view level) {
  spdlog::level::level_enum spd;
  if (level == "debug") {
    spd = spdlog::level::debug;
  } else if (level == "info") {
    spd = spdlog::level::info;
  } else if (level == "warning" || level == "warn") {
    spd = spdlog::level::warn;
  } else if (level == "error") {
    spd = spdlog::level::err;
  } else {
    return absl::InvalidArgumentError(absl::StrCat("--log-level=", std::string(level),
                                                   ": expected debug, info, warning or error"));
  }
  auto logger = Logger();
  std::string pattern = absl::StrCat(R"({"ts":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","service":)",
                                     JsonString(service), ",%v}");
  logger->set_pattern(pattern, spdlog::pattern_time_type::utc);
  logger->set_level(spd);
  logger->flush_on(spdlog::level::warn);
  gpr_set_log_function(GrpcLogToJson);
  gpr_set_log_verbosity(spd <= spdlog::level::debug ? GPR_LOG_SEVERITY_DEBUG
                                                    : GPR_LOG_SEVERITY_ERROR);
  return absl::OkStatus();
}

void Log(LogLevel level, std::string_view msg, LogFields fields) {
  auto logger = Logger();
  auto spd = ToSpd(level);
  if (!logger->should_log(spd)) return;
  logger->log(spd, "{}", FormatLogFields(msg, fields));
}

}  // namespace corvid::service
