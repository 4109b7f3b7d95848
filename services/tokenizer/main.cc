// corvid-tokenizer: the tokenizer service process. Listens at once (health NOT_SERVING), loads
// its tokenizers, serves, and drains on SIGTERM/SIGINT (exit 0). Exit 1 when loading fails,
// 2 on bad flags.
#include <cstdio>
#include <thread>

#include "services/common/logging.h"
#include "services/common/signals.h"
#include "services/tokenizer/tokenizer_flags.h"
#include "services/tokenizer/tokenizer_server.h"

namespace ts = corvid::tokenizer_service;
namespace svc = corvid::service;

int main(int argc, char** argv) {
  svc::TerminationWatcher& watcher = svc::TerminationWatcher::Install();
  ts::TokenizerFlags flags;
  svc::FlagSet flag_set("corvid-tokenizer --model NAME=DIR [--model NAME=DIR ...] [flags]");
  ts::RegisterTokenizerFlags(flag_set, &flags);
  absl::Status parsed = flag_set.Parse(argc, argv);
  if (flag_set.help_requested()) {
    std::fputs(flag_set.Usage().c_str(), stdout);
    return 0;
  }
  auto config =
      parsed.ok() ? ts::ToConfig(flags) : absl::StatusOr<ts::TokenizerServerConfig>(parsed);
  if (!config.ok()) {
    std::fprintf(stderr, "corvid-tokenizer: %s\n\n%s",
                 std::string(config.status().message()).c_str(), flag_set.Usage().c_str());
    return 2;
  }
  if (absl::Status s = svc::InitLogging("corvid-tokenizer", flags.server.log_level); !s.ok()) {
    std::fprintf(stderr, "corvid-tokenizer: %s\n", std::string(s.message()).c_str());
    return 2;
  }
  auto server = ts::TokenizerServer::Start(*config);
  if (!server.ok()) {
    svc::LogError("cannot start", {{"error", std::string(server.status().message())}});
    return 1;
  }
  bool load_failed = false;
  std::thread loader([&] {
    if (!(*server)->LoadModels().ok()) {
      load_failed = true;
      watcher.RequestStop("loading failed");
    }
  });
  std::string reason = watcher.Wait();
  svc::LogInfo("stopping", {{"reason", reason}});
  loader.join();  // a load in progress finishes first: tokenizer loads take seconds at most
  (*server)->Drain();
  server->reset();
  svc::LogInfo("stopped", {{"exit_code", load_failed ? 1 : 0}});
  return load_failed ? 1 : 0;
}
