#include "services/scheduler/worker_discovery.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "services/common/logging.h"

namespace corvid::scheduler {

absl::StatusOr<std::pair<std::string, std::string>> ParseDnsTarget(const std::string& target) {
  std::string rest;
  if (absl::StartsWith(target, "dns:///")) {
    rest = target.substr(7);
  } else if (absl::StartsWith(target, "dns:")) {
    rest = target.substr(4);
  } else {
    return absl::NotFoundError("not a dns: target");
  }
  const size_t colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == rest.size()) {
    return absl::InvalidArgumentError(absl::StrCat("'", target, "': expected dns:///NAME:PORT"));
  }
  return std::make_pair(rest.substr(0, colon), rest.substr(colon + 1));
}

absl::StatusOr<std::vector<std::string>> ResolveAll(const std::string& name,
                                                    const std::string& port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* result = nullptr;
  const int rc = ::getaddrinfo(name.c_str(), port.c_str(), &hints, &result);
  if (rc != 0) {
    return absl::UnavailableError(absl::StrCat("resolving ", name, ": ", gai_strerror(rc)));
  }
  std::set<std::string> addresses;
  for (addrinfo* a = result; a != nullptr; a = a->ai_next) {
    char ip[INET6_ADDRSTRLEN] = {0};
    if (a->ai_family == AF_INET) {
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr, ip, sizeof(ip));
      addresses.insert(absl::StrCat(ip, ":", port));
    } else if (a->ai_family == AF_INET6) {
      inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(a->ai_addr)->sin6_addr, ip,
                sizeof(ip));
      addresses.insert(absl::StrCat("[", ip, "]:", port));
    }
  }
  ::freeaddrinfo(result);
  return std::vector<std::string>(addresses.begin(), addresses.end());
}

WorkerDiscovery::WorkerDiscovery(std::vector<std::string> targets, SchedulerCore* core,
                                 absl::Duration period)
    : core_(core), period_(period) {
  for (const std::string& t : targets) {
    auto parsed = ParseDnsTarget(t);
    if (parsed.ok()) names_.push_back(*parsed);
  }
  if (!names_.empty()) thread_ = std::thread([this] { Loop(); });
}

WorkerDiscovery::~WorkerDiscovery() {
  stop_.Notify();
  if (thread_.joinable()) thread_.join();
}

void WorkerDiscovery::Loop() {
  do {
    for (const auto& [name, port] : names_) {
      auto addresses = ResolveAll(name, port);
      if (!addresses.ok()) {
        service::LogWarning("worker discovery", {{"error", std::string(addresses.status().message())}});
        continue;
      }
      for (const std::string& a : *addresses) core_->AddWorker(a);
    }
  } while (!stop_.WaitForNotificationWithTimeout(period_));
}

}  // namespace corvid::scheduler
