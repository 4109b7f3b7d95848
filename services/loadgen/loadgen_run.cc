#include "services/loadgen/loadgen_run.h"

#include <sys/resource.h>

#include <algorithm>
#include <utility>

#include "engine/status_macros.h"
#include "services/loadgen/driver.h"
#include "services/loadgen/grpc_target.h"
#include "services/loadgen/inprocess_target.h"

namespace corvid::loadgen {
namespace {

double ProcessCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return seconds(u.ru_utime) + seconds(u.ru_stime);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Target>> CreateTarget(const LoadgenConfig& config) {
  if (config.in_process) {
    InProcessOptions options;
    options.worker = config.engine;
    options.request = config.request;
    ASSIGN_OR_RETURN(std::unique_ptr<InProcessTarget> target, InProcessTarget::Create(options));
    return std::unique_ptr<Target>(std::move(target));
  }
  GrpcTargetOptions options;
  options.address = config.server;
  options.channels = static_cast<int>(config.channels);
  options.connect_timeout_s = config.connect_timeout_s;
  options.request = config.request;
  ASSIGN_OR_RETURN(std::unique_ptr<GrpcTarget> target, GrpcTarget::Connect(options));
  return std::unique_ptr<Target>(std::move(target));
}

absl::StatusOr<std::vector<RequestSpec>> BuildWorkload(const LoadgenConfig& config,
                                                       const TargetInfo& info) {
  if (!config.workload.empty()) {
    ASSIGN_OR_RETURN(LengthDistribution out,
                     ParseLengthDistribution("output-len", config.output_len));
    return LoadJsonlWorkload(config.workload, static_cast<int>(out.Mean()));
  }
  SyntheticOptions s;
  ASSIGN_OR_RETURN(s.prompt_len, ParseLengthDistribution("prompt-len", config.prompt_len));
  ASSIGN_OR_RETURN(s.output_len, ParseLengthDistribution("output-len", config.output_len));
  s.text = config.prompt_format == "text";
  s.vocab_size = info.vocab_size;
  s.context_length = info.context_length;
  s.seed = static_cast<uint64_t>(config.seed);
  s.count = std::max<int64_t>({config.num_requests, config.warmup, 1024});
  return SyntheticWorkload(s);
}

absl::StatusOr<Report> RunLoadgen(const LoadgenConfig& config) {
  ASSIGN_OR_RETURN(std::unique_ptr<Target> target, CreateTarget(config));
  const TargetInfo info = target->Info();
  ASSIGN_OR_RETURN(std::vector<RequestSpec> specs, BuildWorkload(config, info));
  if (config.warmup > 0) {
    // Closed loop at the run's concurrency (or a few): connections, caches and thread pools
    // are warm before anything is measured.
    RunOptions warmup;
    warmup.closed_loop = true;
    warmup.concurrency = config.run.closed_loop ? config.run.concurrency : 4;
    warmup.num_requests = config.warmup;
    std::vector<RequestSpec> rotated(specs.rbegin(), specs.rend());
    RunLoad(*target, rotated, warmup);
  }
  const double cpu_before = ProcessCpuSeconds();
  RunResult run = RunLoad(*target, specs, config.run);
  const double cpu_s = ProcessCpuSeconds() - cpu_before;
  Report report = BuildReport(run, config.slo);
  report.process_cpu_s = cpu_s;
  report.label = config.label;
  report.target = info.description;
  report.load = config.load_summary;
  return report;
}

}  // namespace corvid::loadgen
