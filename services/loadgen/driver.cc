#include "services/loadgen/driver.h"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace corvid::loadgen {
namespace {

// Counts requests in flight; completion callbacks (any thread) decrement it.
class InFlight {
 public:
  void Add() {
    std::lock_guard<std::mutex> lock(mu_);
    ++count_;
  }
  void Done() {
    std::lock_guard<std::mutex> lock(mu_);
    --count_;
    cv_.notify_all();
  }
  // Waits until fewer than `limit` are in flight or `until_ns` passes (<= 0: no time limit).
  // Returns the number in flight.
  int WaitBelow(int limit, int64_t until_ns) {
    std::unique_lock<std::mutex> lock(mu_);
    while (count_ >= limit) {
      if (until_ns <= 0) {
        cv_.wait(lock);
        continue;
      }
      const int64_t left = until_ns - NowNs();
      if (left <= 0) break;
      cv_.wait_for(lock, std::chrono::nanoseconds(left));
    }
    return count_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int count_ = 0;
};

void Issue(Target& target, const RequestSpec& spec, int64_t scheduled_ns, RunResult& result,
           InFlight& in_flight) {
  RequestRecord& record = result.records.emplace_back();
  record.scheduled_ns = scheduled_ns;
  in_flight.Add();
  record.sent_ns = NowNs();
  target.Start(spec, &record, [&in_flight] { in_flight.Done(); });
}

void RunOpenLoop(Target& target, const std::vector<RequestSpec>& specs, const RunOptions& options,
                 RunResult& result, InFlight& in_flight) {
  const std::vector<double> offsets =
      ArrivalOffsets(options.arrivals, options.num_requests, options.duration_s);
  for (size_t i = 0; i < offsets.size(); ++i) {
    const int64_t at = result.origin_ns + static_cast<int64_t>(offsets[i] * 1e9);
    const int64_t wait = at - NowNs();
    if (wait > 0) std::this_thread::sleep_for(std::chrono::nanoseconds(wait));
    Issue(target, specs[i % specs.size()], at, result, in_flight);
  }
}

void RunClosedLoop(Target& target, const std::vector<RequestSpec>& specs, const RunOptions& options,
                   RunResult& result, InFlight& in_flight) {
  const int64_t stop_ns = options.duration_s > 0
                              ? result.origin_ns + static_cast<int64_t>(options.duration_s * 1e9)
                              : 0;
  int64_t issued = 0;
  while (options.num_requests < 0 || issued < options.num_requests) {
    const int in_flight_now = in_flight.WaitBelow(options.concurrency, stop_ns);
    if (stop_ns > 0 && NowNs() >= stop_ns) break;
    if (in_flight_now >= options.concurrency) continue;
    const RequestSpec& spec = specs[static_cast<size_t>(issued++) % specs.size()];
    Issue(target, spec, NowNs(), result, in_flight);
  }
}

}  // namespace

absl::Status ValidateRunOptions(const RunOptions& options) {
  if (options.num_requests < 0 && options.duration_s <= 0) {
    return absl::InvalidArgumentError("give --num-requests or --duration-s (or both)");
  }
  if (options.closed_loop && options.concurrency < 1) {
    return absl::InvalidArgumentError("--concurrency must be >= 1");
  }
  return absl::OkStatus();
}

RunResult RunLoad(Target& target, const std::vector<RequestSpec>& specs,
                  const RunOptions& options) {
  RunResult result;
  InFlight in_flight;
  result.origin_ns = NowNs();
  if (options.closed_loop) {
    RunClosedLoop(target, specs, options, result, in_flight);
  } else {
    RunOpenLoop(target, specs, options, result, in_flight);
  }
  in_flight.WaitBelow(1, 0);
  result.finished_ns = NowNs();
  return result;
}

}  // namespace corvid::loadgen
