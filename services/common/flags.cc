#include "services/common/flags.h"

#include <cstdio>
#include <cstdlib>
#include <set>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/common/config_file.h"

namespace corvid::service {
namespace {

absl::Status BadValue(const std::string& source, const std::string& name, const std::string& value,
                      absl::string_view expected) {
  return absl::InvalidArgumentError(
      absl::StrCat(source, ": --", name, "=", value, ": expected ", expected));
}

bool ParseBool(const std::string& text, bool* out) {
  if (text == "true" || text == "1" || text == "yes") return *out = true, true;
  if (text == "false" || text == "0" || text == "no") return *out = false, true;
  return false;
}

}  // namespace

std::string NormalizeFlagName(std::string_view name) {
  while (!name.empty() && name.front() == '-') name.remove_prefix(1);
  std::string out(name);
  for (char& c : out) {
    if (c == '_') c = '-';
  }
  return out;
}

FlagSet::FlagSet(std::string usage) : usage_(std::move(usage)) {}

void FlagSet::Add(std::string name, Kind kind, void* target, std::string help,
                  std::string default_text) {
  name = NormalizeFlagName(name);
  if (name == "config" || name == "help" || flags_.count(name)) {
    std::fprintf(stderr, "FlagSet: flag --%s registered twice\n", name.c_str());
    std::abort();
  }
  flags_[name] = Flag{kind, target, std::move(help), std::move(default_text)};
}

void FlagSet::AddString(std::string name, std::string* value, std::string help) {
  Add(std::move(name), Kind::kString, value, std::move(help), *value);
}
void FlagSet::AddInt(std::string name, int64_t* value, std::string help) {
  Add(std::move(name), Kind::kInt, value, std::move(help), std::to_string(*value));
}
void FlagSet::AddDouble(std::string name, double* value, std::string help) {
  Add(std::move(name), Kind::kDouble, value, std::move(help), absl::StrCat(*value));
}
void FlagSet::AddBool(std::string name, bool* value, std::string help) {
  Add(std::move(name), Kind::kBool, value, std::move(help), *value ? "true" : "false");
}
void FlagSet::AddRepeated(std::string name, std::vector<std::string>* values, std::string help) {
  Add(std::move(name), Kind::kRepeated, values, std::move(help), absl::StrJoin(*values, ","));
}

absl::Status FlagSet::Collect(int argc, const char* const* argv, std::vector<Assignment>* out,
                              std::string* config_path) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--") {
      for (++i; i < argc; ++i) positional_.emplace_back(argv[i]);
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      positional_.emplace_back(arg);
      continue;
    }
    size_t eq = arg.find('=');
    std::string name = NormalizeFlagName(arg.substr(0, eq));
    if (name == "help" || name == "h") {
      help_requested_ = true;
      return absl::OkStatus();
    }
    bool has_value = eq != std::string_view::npos;
    std::string value = has_value ? std::string(arg.substr(eq + 1)) : "";
    auto it = flags_.find(name);
    bool is_bool = it != flags_.end() && it->second.kind == Kind::kBool;
    if (!has_value && !is_bool && name.rfind("no", 0) == 0) {
      auto neg = flags_.find(name.substr(2));
      if (neg != flags_.end() && neg->second.kind == Kind::kBool) {
        out->push_back({name.substr(2), "false"});
        continue;
      }
    }
    if (name != "config" && it == flags_.end()) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    }
    if (!has_value && is_bool) {
      value = "true";
    } else if (!has_value) {
      if (i + 1 >= argc)
        return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
      value = argv[++i];
    }
    if (name == "config") {
      *config_path = value;
    } else {
      out->push_back({name, value});
    }
  }
  return absl::OkStatus();
}

absl::Status FlagSet::SetValue(const std::string& name, Flag& flag, const std::string& value,
                               bool first_from_source) {
  switch (flag.kind) {
    case Kind::kString:
      *static_cast<std::string*>(flag.target) = value;
      return absl::OkStatus();
    case Kind::kInt:
      if (!absl::SimpleAtoi(value, static_cast<int64_t*>(flag.target))) {
        return absl::InvalidArgumentError("an integer");
      }
      return absl::OkStatus();
    case Kind::kDouble:
      if (!absl::SimpleAtod(value, static_cast<double*>(flag.target))) {
        return absl::InvalidArgumentError("a number");
      }
      return absl::OkStatus();
    case Kind::kBool:
      if (!ParseBool(value, static_cast<bool*>(flag.target))) {
        return absl::InvalidArgumentError("true or false");
      }
      return absl::OkStatus();
    case Kind::kRepeated: {
      auto* values = static_cast<std::vector<std::string>*>(flag.target);
      if (first_from_source) values->clear();
      values->push_back(value);
      return absl::OkStatus();
    }
  }
  return absl::InternalError("unhandled flag kind");
}

absl::Status FlagSet::Apply(const std::vector<Assignment>& assignments, const std::string& source) {
  std::set<std::string> seen;
  for (const Assignment& a : assignments) {
    std::string name = NormalizeFlagName(a.name);
    auto it = flags_.find(name);
    if (it == flags_.end()) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": unknown flag --", name));
    }
    bool first = seen.insert(name).second;
    absl::Status s = SetValue(name, it->second, a.value, first);
    if (!s.ok()) return BadValue(source, name, a.value, s.message());
  }
  return absl::OkStatus();
}

absl::Status FlagSet::Parse(int argc, const char* const* argv) {
  std::vector<Assignment> command_line;
  std::string config_path;
  absl::Status collected = Collect(argc, argv, &command_line, &config_path);
  if (!collected.ok() || help_requested_) return collected;
  if (!config_path.empty()) {
    auto entries = ReadConfigFile(config_path);
    if (!entries.ok()) return entries.status();
    std::vector<Assignment> from_file;
    for (auto& [key, value] : *entries) from_file.push_back({key, value});
    absl::Status s = Apply(from_file, config_path);
    if (!s.ok()) return s;
  }
  return Apply(command_line, "command line");
}

std::string FlagSet::Usage() const {
  std::string out = absl::StrCat("usage: ", usage_, "\n\nflags:\n");
  for (const auto& [name, flag] : flags_) {
    absl::StrAppend(&out, "  --", name, flag.kind == Kind::kRepeated ? " (repeatable)" : "",
                    "\n      ", flag.help);
    if (!flag.default_text.empty()) absl::StrAppend(&out, " [default: ", flag.default_text, "]");
    absl::StrAppend(&out, "\n");
  }
  absl::StrAppend(&out,
                  "  --config FILE\n      key = value lines or a JSON object setting the flags"
                  " above; the command line overrides it\n");
  return out;
}

}  // namespace corvid::service
