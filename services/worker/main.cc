// corvid-worker: one engine (one GPU, or the CPU) behind the corvid.v1.Worker service. Listens at
// once (health NOT_SERVING), loads the model, serves, and drains on SIGTERM/SIGINT (exit 0).
// Exit 1 when loading fails, 2 on bad flags.
#include <cstdio>
#include <thread>

#include "services/common/logging.h"
#include "services/common/signals.h"
#include "services/worker/worker_server.h"

namespace svc = corvid::service;
namespace wk = corvid::worker;

int main(int argc, char** argv) {
  svc::TerminationWatcher& watcher = svc::TerminationWatcher::Install();
  wk::WorkerConfig config;
  svc::FlagSet flags("corvid-worker --model DIR [flags]");
  wk::RegisterWorkerFlags(flags, &config);
  absl::Status parsed = flags.Parse(argc, argv);
  if (flags.help_requested()) {
    std::fputs(flags.Usage().c_str(), stdout);
    return 0;
  }
  if (parsed.ok()) parsed = wk::ResolveWorkerConfig(&config);
  if (!parsed.ok()) {
    std::fprintf(stderr, "corvid-worker: %s\n\n%s", std::string(parsed.message()).c_str(),
                 flags.Usage().c_str());
    return 2;
  }
  if (absl::Status s = svc::InitLogging("corvid-worker", config.server.log_level); !s.ok()) {
    std::fprintf(stderr, "corvid-worker: %s\n", std::string(s.message()).c_str());
    return 2;
  }
  auto server = wk::WorkerServer::Start(config);
  if (!server.ok()) {
    svc::LogError("cannot start", {{"error", std::string(server.status().message())}});
    return 1;
  }
  bool load_failed = false;
  std::thread loader([&] {
    absl::Status s = (*server)->Load();
    if (!s.ok()) {
      svc::LogError("loading failed", {{"error", std::string(s.message())}});
      load_failed = true;
      watcher.RequestStop("loading failed");
    }
  });
  std::string reason = watcher.Wait();
  svc::LogInfo("stopping", {{"reason", reason}});
  loader.join();
  (*server)->Drain();
  server->reset();
  return load_failed ? 1 : 0;
}
