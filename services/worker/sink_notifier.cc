#include "services/worker/sink_notifier.h"

#include <algorithm>

#include "services/worker/worker_core.h"

namespace corvid::worker {

SinkNotifier::SinkNotifier() : thread_([this] { Loop(); }) {}

SinkNotifier::~SinkNotifier() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
}

void SinkNotifier::Post(const std::vector<std::shared_ptr<SessionSink>>& sinks) {
  if (sinks.empty()) return;
  absl::MutexLock lock(&mu_);
  // A handful of sessions (one per scheduler): a linear search beats a set.
  for (const auto& sink : sinks) {
    if (std::find(pending_.begin(), pending_.end(), sink) == pending_.end()) {
      pending_.push_back(sink);
    }
  }
}

void SinkNotifier::Loop() {
  std::vector<std::shared_ptr<SessionSink>> batch;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](SinkNotifier* n)
               ABSL_NO_THREAD_SAFETY_ANALYSIS { return n->stop_ || !n->pending_.empty(); },
          this));
      if (stop_) return;
      batch.swap(pending_);
    }
    for (const auto& sink : batch) sink->Notify();
    batch.clear();
  }
}

}  // namespace corvid::worker
