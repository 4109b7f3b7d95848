// SIGTERM/SIGINT handling without async-signal-safety pitfalls: the signals are blocked in every
// thread and taken synchronously by one watcher thread (sigwait), which wakes Wait().
#ifndef CORVID_SERVICES_COMMON_SIGNALS_H_
#define CORVID_SERVICES_COMMON_SIGNALS_H_

#include <string>

#include "absl/synchronization/mutex.h"

namespace corvid::service {

class TerminationWatcher {
 public:
  // Blocks SIGTERM and SIGINT in the calling thread (threads started later inherit the mask) and
  // starts the watcher thread. Call first thing in main(), before any other thread exists.
  // Returns the process-wide watcher; later calls return the same one.
  static TerminationWatcher& Install();

  // Blocks until a signal arrives or RequestStop() is called; returns the reason ("SIGTERM",
  // "SIGINT" or RequestStop's argument). Returns at once if that already happened.
  std::string Wait();

  // Wakes Wait() as a signal would: for fatal errors found by other threads, and for tests.
  void RequestStop(const std::string& reason);

 private:
  TerminationWatcher() = default;

  absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  std::string reason_ ABSL_GUARDED_BY(mu_);
};

}  // namespace corvid::service

#endif  // CORVID_SERVICES_COMMON_SIGNALS_H_
