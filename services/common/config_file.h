// Service configuration files: either `key = value` lines or one JSON object, keys being flag
// names. The result feeds FlagSet, so a file can set anything the command line can.
#ifndef CORVID_SERVICES_COMMON_CONFIG_FILE_H_
#define CORVID_SERVICES_COMMON_CONFIG_FILE_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace corvid::service {

// (flag name, value) in file order; a repeated key (or a JSON array) yields several entries.
using ConfigEntries = std::vector<std::pair<std::string, std::string>>;

// Text whose first non-blank character is '{' is read as a JSON object whose values are strings,
// numbers, booleans or arrays of those. Otherwise each line is `key = value` (a leading "--" on
// the key is allowed), '#' starts a comment line, blank lines are skipped. INVALID_ARGUMENT names
// the line or JSON key that is malformed.
absl::StatusOr<ConfigEntries> ParseConfigText(std::string_view text);

// Reads and parses `path`; NOT_FOUND when it cannot be read.
absl::StatusOr<ConfigEntries> ReadConfigFile(const std::string& path);

}  // namespace corvid::service

#endif  // CORVID_SERVICES_COMMON_CONFIG_FILE_H_
