#include "tools/corvid/flag_parser.h"

#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace corvid::cli {

void FlagParser::String(const std::string& name, std::string* out) {
  flags_[name] = Flag{Kind::kString, out, nullptr};
}
void FlagParser::Int(const std::string& name, int* out) {
  flags_[name] = Flag{Kind::kInt, out, nullptr};
}
void FlagParser::Float(const std::string& name, float* out) {
  flags_[name] = Flag{Kind::kFloat, out, nullptr};
}
void FlagParser::Uint64(const std::string& name, uint64_t* out, bool* seen) {
  flags_[name] = Flag{Kind::kUint64, out, seen};
}
void FlagParser::Bool(const std::string& name, bool* out) {
  flags_[name] = Flag{Kind::kBool, out, nullptr};
}

absl::Status FlagParser::Assign(const std::string& name, const Flag& flag,
                                const std::string& value) {
  bool ok = true;
  switch (flag.kind) {
    case Kind::kString:
      *static_cast<std::string*>(flag.out) = value;
      break;
    case Kind::kInt:
      ok = absl::SimpleAtoi(value, static_cast<int*>(flag.out));
      break;
    case Kind::kFloat:
      ok = absl::SimpleAtof(value, static_cast<float*>(flag.out)) &&
           std::isfinite(*static_cast<float*>(flag.out));
      break;
    case Kind::kUint64:
      ok = absl::SimpleAtoi(value, static_cast<uint64_t*>(flag.out));
      break;
    case Kind::kBool:
      ok = absl::SimpleAtob(value, static_cast<bool*>(flag.out));
      break;
  }
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat("--", name, ": bad value '", value, "'"));
  }
  if (flag.seen != nullptr) *flag.seen = true;
  seen_.insert(name);
  return absl::OkStatus();
}

absl::Status FlagParser::Parse(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.size() < 3 || arg.compare(0, 2, "--") != 0) {
      return absl::InvalidArgumentError(absl::StrCat("unexpected argument '", arg, "'"));
    }
    const size_t eq = arg.find('=');
    const std::string name = arg.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
    auto it = flags_.find(name);
    if (it == flags_.end()) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    }
    std::string value;
    if (eq != std::string::npos) {
      value = arg.substr(eq + 1);
    } else if (it->second.kind == Kind::kBool) {
      value = "true";
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
    }
    if (absl::Status s = Assign(name, it->second, value); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace corvid::cli
