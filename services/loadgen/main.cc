// corvid-loadgen: load generator for corvid.v1.Generation (or, with --in-process, the same
// engine in this process). Prints TTFT / TPOT / ITL percentiles, throughputs, goodput under an
// SLO and failures by gRPC code; --json FILE writes the same as JSON. Exit 1 when the run
// cannot be made, 2 on bad flags.
#include <cstdio>
#include <fstream>

#include "nlohmann/json.hpp"
#include "services/common/flags.h"
#include "services/loadgen/loadgen_flags.h"
#include "services/loadgen/loadgen_run.h"

namespace lg = corvid::loadgen;

int main(int argc, char** argv) {
  lg::LoadgenConfig config;
  corvid::service::FlagSet flags(
      "corvid-loadgen (--server HOST:PORT | --in-process --model DIR)\n"
      "               (--rate R [--arrival A] | --concurrency N)\n"
      "               (--num-requests N | --duration-s S) [flags]");
  lg::RegisterLoadgenFlags(flags, &config);
  absl::Status parsed = flags.Parse(argc, argv);
  if (flags.help_requested()) {
    std::fputs(flags.Usage().c_str(), stdout);
    return 0;
  }
  if (parsed.ok()) parsed = lg::ResolveLoadgenConfig(&config);
  if (!parsed.ok()) {
    std::fprintf(stderr, "corvid-loadgen: %s\n\n%s", std::string(parsed.message()).c_str(),
                 flags.Usage().c_str());
    return 2;
  }
  absl::StatusOr<lg::Report> report = lg::RunLoadgen(config);
  if (!report.ok()) {
    std::fprintf(stderr, "corvid-loadgen: %s\n", std::string(report.status().message()).c_str());
    return 1;
  }
  std::fputs(lg::FormatReport(*report).c_str(), stdout);
  if (!config.json_path.empty()) {
    std::ofstream out(config.json_path);
    out << lg::ReportToJson(*report).dump(2) << "\n";
    if (!out) {
      std::fprintf(stderr, "corvid-loadgen: cannot write %s\n", config.json_path.c_str());
      return 1;
    }
  }
  return 0;
}
