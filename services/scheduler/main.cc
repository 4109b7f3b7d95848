// corvid-scheduler: the public corvid.v1.Generation service in front of the worker and
// tokenizer tiers. Serves at once (health SERVING once a worker is live) and drains on
// SIGTERM/SIGINT (exit 0). Exit 1 when it cannot start, 2 on bad flags.
#include <cstdio>

#include "services/common/logging.h"
#include "services/common/signals.h"
#include "services/scheduler/scheduler_server.h"

namespace svc = corvid::service;
namespace sc = corvid::scheduler;

int main(int argc, char** argv) {
  svc::TerminationWatcher& watcher = svc::TerminationWatcher::Install();
  sc::SchedulerConfig config;
  svc::FlagSet flags("corvid-scheduler --worker HOST:PORT --tokenizer HOST:PORT [flags]");
  sc::RegisterSchedulerFlags(flags, &config);
  absl::Status parsed = flags.Parse(argc, argv);
  if (flags.help_requested()) {
    std::fputs(flags.Usage().c_str(), stdout);
    return 0;
  }
  if (parsed.ok()) parsed = sc::ValidateSchedulerConfig(config);
  if (!parsed.ok()) {
    std::fprintf(stderr, "corvid-scheduler: %s\n\n%s", std::string(parsed.message()).c_str(),
                 flags.Usage().c_str());
    return 2;
  }
  if (absl::Status s = svc::InitLogging("corvid-scheduler", config.server.log_level); !s.ok()) {
    std::fprintf(stderr, "corvid-scheduler: %s\n", std::string(s.message()).c_str());
    return 2;
  }
  auto server = sc::SchedulerServer::Start(config);
  if (!server.ok()) {
    svc::LogError("cannot start", {{"error", std::string(server.status().message())}});
    return 1;
  }
  std::string reason = watcher.Wait();
  svc::LogInfo("stopping", {{"reason", reason}});
  (*server)->Drain();
  server->reset();
  return 0;
}
