#include "services/common/signals.h"

#include <pthread.h>
#include <signal.h>

#include <thread>

namespace corvid::service {
namespace {

sigset_t TerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

}  // namespace

TerminationWatcher& TerminationWatcher::Install() {
  static TerminationWatcher* watcher = [] {
    sigset_t set = TerminationSignals();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    auto* w = new TerminationWatcher();
    // Detached on purpose: it lives as long as the process and exits with it.
    std::thread([w, set] {
      for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0) continue;
        w->RequestStop(sig == SIGTERM ? "SIGTERM" : "SIGINT");
      }
    }).detach();
    return w;
  }();
  return *watcher;
}

std::string TerminationWatcher::Wait() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(&stopped_));
  return reason_;
}

void TerminationWatcher::RequestStop(const std::string& reason) {
  absl::MutexLock lock(&mu_);
  if (stopped_) return;  // the first reason is the one that counts
  stopped_ = true;
  reason_ = reason;
}

}  // namespace corvid::service
