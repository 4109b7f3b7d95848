// Sub-command registry for the `corvid` CLI: each command lives in its own file and registers
// itself with a static CommandRegistration.
#ifndef CORVID_TOOLS_CORVID_COMMAND_H_
#define CORVID_TOOLS_CORVID_COMMAND_H_

#include <map>
#include <string>

namespace corvid::cli {

// argv[0] is the sub-command's name; returns the process exit code.
using CommandFn = int (*)(int argc, char** argv);

struct CommandInfo {
  CommandFn run;
  std::string summary;
};

std::map<std::string, CommandInfo>& Commands();

struct CommandRegistration {
  CommandRegistration(const std::string& name, CommandFn run, const std::string& summary) {
    Commands()[name] = CommandInfo{run, summary};
  }
};

}  // namespace corvid::cli

#endif  // CORVID_TOOLS_CORVID_COMMAND_H_
