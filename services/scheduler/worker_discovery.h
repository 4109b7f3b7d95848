// Worker discovery for --worker dns:///NAME:PORT: a headless Kubernetes service resolves to one
// address per worker pod, and the scheduler needs one Session per worker, so the name is
// resolved here (getaddrinfo, on this thread: it blocks) every `period` and each new address is
// handed to the core. Addresses that disappear stay known; their links fail and retry, which
// costs nothing while they are down.
#ifndef CORVID_SERVICES_SCHEDULER_WORKER_DISCOVERY_H_
#define CORVID_SERVICES_SCHEDULER_WORKER_DISCOVERY_H_

#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "services/scheduler/scheduler_core.h"

namespace corvid::scheduler {

// "dns:///NAME:PORT" (or "dns:NAME:PORT") -> {NAME, PORT}; NOT_FOUND for a plain HOST:PORT.
absl::StatusOr<std::pair<std::string, std::string>> ParseDnsTarget(const std::string& target);
// The IPv4/IPv6 addresses NAME resolves to, as "IP:PORT" ("[IP]:PORT" for IPv6).
absl::StatusOr<std::vector<std::string>> ResolveAll(const std::string& name,
                                                    const std::string& port);

class WorkerDiscovery {
 public:
  // Starts resolving `targets` (the dns: ones; others are ignored) at once and every `period`.
  WorkerDiscovery(std::vector<std::string> targets, SchedulerCore* core, absl::Duration period);
  ~WorkerDiscovery();  // stops the thread

 private:
  void Loop();

  std::vector<std::pair<std::string, std::string>> names_;
  SchedulerCore* core_;
  absl::Duration period_;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace corvid::scheduler

#endif  // CORVID_SERVICES_SCHEDULER_WORKER_DISCOVERY_H_
