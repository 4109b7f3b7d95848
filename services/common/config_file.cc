#include "services/common/config_file.h"

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"

namespace corvid::service {
namespace {

// A scalar JSON value as the command line would spell it.
absl::StatusOr<std::string> ScalarToString(const nlohmann::json& v, const std::string& key) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return std::string(v.get<bool>() ? "true" : "false");
  if (v.is_number()) return v.dump();
  return absl::InvalidArgumentError(
      absl::StrCat("config key '", key, "': expected a string, number or boolean"));
}

absl::StatusOr<ConfigEntries> ParseJson(std::string_view text) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("config: invalid JSON: ", e.what()));
  }
  if (!doc.is_object()) return absl::InvalidArgumentError("config: JSON must be an object");
  ConfigEntries out;
  for (const auto& [key, value] : doc.items()) {
    if (value.is_array()) {
      for (const auto& item : value) {
        auto s = ScalarToString(item, key);
        if (!s.ok()) return s.status();
        out.emplace_back(key, *s);
      }
      continue;
    }
    auto s = ScalarToString(value, key);
    if (!s.ok()) return s.status();
    out.emplace_back(key, *s);
  }
  return out;
}

absl::StatusOr<ConfigEntries> ParseLines(absl::string_view text) {
  ConfigEntries out;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    size_t eq = line.find('=');
    if (eq == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("config line ", line_no, ": expected key = value"));
    }
    absl::string_view key = absl::StripAsciiWhitespace(line.substr(0, eq));
    if (key.substr(0, 2) == "--") key.remove_prefix(2);
    if (key.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("config line ", line_no, ": empty key"));
    }
    out.emplace_back(std::string(key),
                     std::string(absl::StripAsciiWhitespace(line.substr(eq + 1))));
  }
  return out;
}

}  // namespace

absl::StatusOr<ConfigEntries> ParseConfigText(std::string_view text) {
  absl::string_view view(text.data(), text.size());  // Debian's Abseil has its own string_view
  absl::string_view trimmed = absl::StripLeadingAsciiWhitespace(view);
  if (!trimmed.empty() && trimmed.front() == '{') {
    return ParseJson(std::string_view(trimmed.data(), trimmed.size()));
  }
  return ParseLines(view);
}

absl::StatusOr<ConfigEntries> ReadConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read config file ", path));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  auto entries = ParseConfigText(buffer.str());
  if (!entries.ok()) {
    return absl::Status(entries.status().code(),
                        absl::StrCat(path, ": ", entries.status().message()));
  }
  return entries;
}

}  // namespace corvid::service
