// Command-line flags for the service binaries: explicit, per-binary flag sets (no globals) with
// repeatable flags and a `--config FILE` that sets the same flags from a file.
//
// Precedence: default < config file < command line. A repeatable flag takes all the values one
// source gives it, replacing those of lower-precedence sources.
#ifndef CORVID_SERVICES_COMMON_FLAGS_H_
#define CORVID_SERVICES_COMMON_FLAGS_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace corvid::service {

class FlagSet {
 public:
  // `usage` heads the --help text (e.g. "corvid-tokenizer --model NAME=DIR [flags]").
  explicit FlagSet(std::string usage);

  // Registers a flag bound to `*value`, whose current content is the default. Names use dashes;
  // `--a_b` is accepted for `--a-b`. Registering a name twice is a programming error (aborts).
  void AddString(std::string name, std::string* value, std::string help);
  void AddInt(std::string name, int64_t* value, std::string help);
  void AddDouble(std::string name, double* value, std::string help);
  // `--name`, `--name=true|false|1|0`, `--noname`.
  void AddBool(std::string name, bool* value, std::string help);
  // May be given several times; each occurrence appends one value.
  void AddRepeated(std::string name, std::vector<std::string>* values, std::string help);

  // Parses argv[1..argc). Accepts `--name=value` and `--name value`; `--` ends flags; other
  // arguments are collected as positional(). `--help` sets help_requested() and stops. Returns
  // INVALID_ARGUMENT naming an unknown flag or a malformed value (with its source: the command
  // line or the config file).
  absl::Status Parse(int argc, const char* const* argv);

  bool help_requested() const { return help_requested_; }
  const std::vector<std::string>& positional() const { return positional_; }
  std::string Usage() const;

 private:
  enum class Kind { kString, kInt, kDouble, kBool, kRepeated };
  struct Flag {
    Kind kind;
    void* target;
    std::string help;
    std::string default_text;
  };
  struct Assignment {
    std::string name;
    std::string value;
  };

  void Add(std::string name, Kind kind, void* target, std::string help, std::string default_text);
  // Splits argv into assignments; fills config_path when --config is given.
  absl::Status Collect(int argc, const char* const* argv, std::vector<Assignment>* out,
                       std::string* config_path);
  // Applies one source's assignments; `source` names it in errors.
  absl::Status Apply(const std::vector<Assignment>& assignments, const std::string& source);
  absl::Status SetValue(const std::string& name, Flag& flag, const std::string& value,
                        bool first_from_source);

  std::string usage_;
  std::map<std::string, Flag> flags_;
  std::vector<std::string> positional_;
  bool help_requested_ = false;
};

// Normalizes a flag name: strips leading dashes, maps '_' to '-'.
std::string NormalizeFlagName(std::string_view name);

}  // namespace corvid::service

#endif  // CORVID_SERVICES_COMMON_FLAGS_H_
