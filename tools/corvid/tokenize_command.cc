// `corvid tokenize --model DIR [--no-special] [--decode]`: text lines on stdin -> one line of
// space-separated ids per line on stdout, or ids -> text with --decode. With --server HOST:PORT
// a running corvid-tokenizer does the work (tokenize_remote.h).
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "engine/tokenizer/tokenizer.h"
#include "tools/corvid/command.h"
#include "tools/corvid/tokenize_remote.h"

namespace corvid::cli {
namespace {

constexpr char kUsage[] =
    "usage: corvid tokenize (--model DIR | --server HOST:PORT [--model-name NAME])\n"
    "                       [--no-special] [--decode]\n"
    "  Reads UTF-8 lines on stdin and prints one line of space-separated token ids per line.\n"
    "  --model DIR    model folder holding tokenizer.json or tokenizer.model\n"
    "  --no-special   encode without bos/eos; with --decode, drop special tokens\n"
    "  --decode       read lines of ids, print the decoded text\n"
    "  --server H:P   use a running corvid-tokenizer service instead of a local model\n"
    "  --model-name N with --server: the served model to use (default: the server's default)\n";

struct Options {
  std::string model_dir;
  std::string server;
  std::string model_name;
  bool special = true;
  bool decode = false;
};

// Returns -1 to continue, else the exit code.
int ParseArgs(int argc, char** argv, Options* opt) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](const char* name, std::string* out) {
      const std::string prefix = std::string(name) + "=";
      if (arg == name && i + 1 < argc) {
        *out = argv[++i];
        return true;
      }
      if (arg.rfind(prefix, 0) == 0) {
        *out = arg.substr(prefix.size());
        return true;
      }
      return false;
    };
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (arg == "--no-special") {
      opt->special = false;
    } else if (arg == "--decode") {
      opt->decode = true;
    } else if (!value("--model", &opt->model_dir) && !value("--server", &opt->server) &&
               !value("--model-name", &opt->model_name)) {
      std::fprintf(stderr, "corvid tokenize: unknown argument '%s'\n%s", arg.c_str(), kUsage);
      return 2;
    }
  }
  if (!opt->server.empty() && !opt->model_dir.empty()) {
    std::fprintf(stderr, "corvid tokenize: give --model or --server, not both\n");
    return 2;
  }
  if (opt->server.empty() && opt->model_dir.empty()) {
    std::fprintf(stderr, "corvid tokenize: --model DIR or --server HOST:PORT is required\n%s", kUsage);
    return 2;
  }
  return -1;
}

int Run(const Tokenizer& tokenizer, const Options& opt) {
  std::ios::sync_with_stdio(false);
  std::string line;
  int line_no = 0;
  while (std::getline(std::cin, line)) {
    ++line_no;
    if (opt.decode) {
      std::vector<int32_t> ids;
      for (absl::string_view field : absl::StrSplit(line, ' ', absl::SkipEmpty())) {
        int32_t id;
        if (!absl::SimpleAtoi(field, &id)) {
          std::fprintf(stderr, "corvid tokenize: line %d: '%s' is not a token id\n", line_no,
                       std::string(field).c_str());
          return 1;
        }
        ids.push_back(id);
      }
      auto text = tokenizer.Decode(ids, /*skip_special_tokens=*/!opt.special);
      if (!text.ok()) {
        std::fprintf(stderr, "corvid tokenize: line %d: %s\n", line_no,
                     text.status().ToString().c_str());
        return 1;
      }
      std::cout << *text << '\n';
    } else {
      auto ids = tokenizer.Encode(line, opt.special);
      if (!ids.ok()) {
        std::fprintf(stderr, "corvid tokenize: line %d: %s\n", line_no,
                     ids.status().ToString().c_str());
        return 1;
      }
      std::cout << absl::StrJoin(*ids, " ") << '\n';
    }
  }
  std::cout.flush();
  return 0;
}

int TokenizeCommand(int argc, char** argv) {
  Options opt;
  const int rc = ParseArgs(argc, argv, &opt);
  if (rc >= 0) return rc;
  if (!opt.server.empty()) {
    return RunRemoteTokenize({opt.server, opt.model_name, opt.special, opt.decode});
  }
  auto tokenizer = LoadTokenizer(opt.model_dir);
  if (!tokenizer.ok()) {
    std::fprintf(stderr, "corvid tokenize: %s\n", tokenizer.status().ToString().c_str());
    return 1;
  }
  return Run(**tokenizer, opt);
}

const CommandRegistration kRegistration("tokenize", TokenizeCommand,
                                        "text lines <-> token ids with a model's tokenizer");

}  // namespace
}  // namespace corvid::cli
