// Hand-rolled flags for one sub-command (absl flags are process-global, and each command must
// keep its own). Accepts `--name value`, `--name=value`, and `--name` / `--name=true|false` for
// booleans; anything else is an error naming the argument.
#ifndef CORVID_TOOLS_CORVID_FLAG_PARSER_H_
#define CORVID_TOOLS_CORVID_FLAG_PARSER_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "absl/status/status.h"

namespace corvid::cli {

class FlagParser {
 public:
  // Each binds `--name` to a destination that keeps its value when the flag is absent.
  void String(const std::string& name, std::string* out);
  void Int(const std::string& name, int* out);
  void Float(const std::string& name, float* out);
  // `seen` (optional) is set when the flag is given.
  void Uint64(const std::string& name, uint64_t* out, bool* seen = nullptr);
  void Bool(const std::string& name, bool* out);

  // argv[0] is the command's name and is skipped. INVALID_ARGUMENT naming the flag for an
  // unknown flag, a missing or malformed value, or a positional argument.
  absl::Status Parse(int argc, char** argv);
  bool Seen(const std::string& name) const { return seen_.count(name) > 0; }

 private:
  enum class Kind { kString, kInt, kFloat, kUint64, kBool };
  struct Flag {
    Kind kind;
    void* out;
    bool* seen;
  };
  absl::Status Assign(const std::string& name, const Flag& flag, const std::string& value);

  std::map<std::string, Flag> flags_;
  std::set<std::string> seen_;
};

}  // namespace corvid::cli

#endif  // CORVID_TOOLS_CORVID_FLAG_PARSER_H_
