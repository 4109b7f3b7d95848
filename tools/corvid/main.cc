// `corvid <command> [flags]`: the command-line entry point.
#include <cstdio>
#include <cstring>

#include "tools/corvid/command.h"

namespace corvid::cli {
std::map<std::string, CommandInfo>& Commands() {
  static auto* commands = new std::map<std::string, CommandInfo>();
  return *commands;
}
}  // namespace corvid::cli

static void PrintUsage() {
  std::fprintf(stderr, "usage: corvid <command> [flags]\n\ncommands:\n");
  for (const auto& [name, info] : corvid::cli::Commands()) {
    std::fprintf(stderr, "  %-12s %s\n", name.c_str(), info.summary.c_str());
  }
  std::fprintf(stderr, "\n`corvid <command> --help` describes a command's flags.\n");
}

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    PrintUsage();
    return argc < 2 ? 2 : 0;
  }
  auto& commands = corvid::cli::Commands();
  auto it = commands.find(argv[1]);
  if (it == commands.end()) {
    std::fprintf(stderr, "corvid: unknown command '%s'\n\n", argv[1]);
    PrintUsage();
    return 2;
  }
  return it->second.run(argc - 1, argv + 1);
}
