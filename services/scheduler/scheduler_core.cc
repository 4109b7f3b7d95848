#include "services/scheduler/scheduler_core.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "services/common/logging.h"
#include "services/common/status_convert.h"
#include "services/scheduler/dispatch_planner.h"
#include "services/scheduler/scheduler_core_internal.h"

namespace corvid::scheduler {

SchedulerCore::SchedulerCore(const SchedulerOptions& options,
                             std::vector<std::string> worker_addresses, TokenizerPool* tokenizers,
                             SchedulerMetrics* metrics)
    : options_(options),
      tokenizers_(tokenizers),
      metrics_(metrics),
      queue_(options.queue),
      reservations_(options.queue),
      affinity_(options.affinity) {
  for (const std::string& address : worker_addresses) AddWorkerNow(address);
  for (int i = 0; i < tokenizers_->size(); ++i) {
    auto slot = std::make_unique<DetokSlot>();
    slot->replica = i;
    slot->backoff = options_.reconnect_min;
    detok_.push_back(std::move(slot));
  }
  absl::MutexLock lock(&mu_);
  snapshot_.max_queued = options_.queue.max_requests;
}

SchedulerCore::~SchedulerCore() { Stop(); }

void SchedulerCore::AddWorker(const std::string& address) {
  Post([this, address] { AddWorkerNow(address); });
}

void SchedulerCore::AddWorkerNow(const std::string& address) {
  for (const auto& w : workers_) {
    if (w->link->address() == address) return;
  }
  auto w = std::make_unique<Worker>();
  const int index = static_cast<int>(workers_.size());
  WorkerLinkCallbacks cb;
  cb.on_up = [this, index](uint64_t epoch, const v1::WorkerInfo& info) {
    Post([this, index, epoch, info] { OnWorkerUp(index, epoch, info); });
  };
  cb.on_message = [this, index](uint64_t epoch, v1::SessionResponse m) {
    auto shared = std::make_shared<v1::SessionResponse>(std::move(m));
    Post([this, index, epoch, shared] { OnWorkerMessage(index, epoch, std::move(*shared)); });
  };
  cb.on_down = [this, index](uint64_t epoch, absl::Status s) {
    Post([this, index, epoch, s] { OnWorkerDown(index, epoch, s); });
  };
  w->link = std::make_unique<WorkerLink>(address, std::move(cb));
  w->backoff = options_.reconnect_min;
  workers_.push_back(std::move(w));
  service::LogInfo("worker added", {{"worker", address}});
}

void SchedulerCore::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void SchedulerCore::Stop() {
  if (!thread_.joinable()) return;
  Post([this] {
    for (auto& [id, r] : requests_) {
      if (!r->client_done) {
        r->client_done = true;
        r->call->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "scheduler stopping"));
      }
    }
    for (auto& slot : detok_) {
      if (slot->stream) slot->stream->Cancel();
    }
  });
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
  // Links end their sessions and wait for them; late callbacks find stop_ set and are dropped.
  for (auto& w : workers_) w->link.reset();
}

void SchedulerCore::Post(std::function<void()> task) {
  absl::MutexLock lock(&mu_);
  if (stop_) return;
  tasks_.push_back(std::move(task));
}

void SchedulerCore::Submit(NewRequest request) {
  auto shared = std::make_shared<NewRequest>(std::move(request));
  Post([this, shared] { Admit(std::move(*shared)); });
}

SchedulerSnapshot SchedulerCore::Snapshot() const {
  absl::MutexLock lock(&mu_);
  return snapshot_;
}

int64_t SchedulerCore::live_requests() const {
  absl::MutexLock lock(&mu_);
  return live_requests_;
}

void SchedulerCore::SetLiveWorkersListener(std::function<void(int)> listener) {
  Post([this, listener = std::move(listener)] {
    live_listener_ = listener;
    int live = 0;
    for (auto& w : workers_) live += w->up ? 1 : 0;
    live_listener_(live);
  });
}

void SchedulerCore::Loop() {
  absl::Time wake = absl::Now();
  bool stopping = false;
  while (!stopping) {
    std::deque<std::function<void()>> tasks;
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithDeadline(absl::Condition(
                                +[](SchedulerCore* c) ABSL_NO_THREAD_SAFETY_ANALYSIS {
                                  return c->stop_ || !c->tasks_.empty();
                                },
                                this),
                            wake);
      tasks.swap(tasks_);
      stopping = stop_;  // what was posted before Stop() (its own task included) still runs
    }
    for (auto& t : tasks) t();
    if (!stopping) wake = OnTick(absl::Now());
  }
}

absl::Time SchedulerCore::OnTick(absl::Time now) {
  ConnectWorkers(now);
  ConnectDetok(now);
  for (const QueueEntry& e : queue_.PopExpired(now)) {
    auto it = requests_.find(e.id);
    if (it == requests_.end()) continue;
    FinishError(*it->second, absl::DeadlineExceededError("deadline passed while queued"));
  }
  ExpireParked(now);
  Publish();
  absl::Time wake = std::min(now + options_.max_tick, queue_.NextDeadline());
  for (auto& w : workers_) {
    if (!w->up && !w->connecting) wake = std::min(wake, w->retry_at);
  }
  for (auto& s : detok_) {
    if (!s->up) wake = std::min(wake, s->retry_at);
  }
  return std::max(wake, now + absl::Microseconds(100));
}

int SchedulerCore::FreeSlots() const {
  int free = 0;
  for (const auto& w : workers_) {
    if (w->up && w->load != nullptr) free += std::max(0, w->load->free_slots());
  }
  return free;
}

ClusterView SchedulerCore::View() const {
  ClusterView v;
  for (const auto& w : workers_) {
    if (!w->up || w->load == nullptr) continue;
    ++v.live_workers;
    v.total_slots += w->load->max_sequences();
    v.free_slots += std::max(0, w->load->free_slots());
    v.max_worker_tokens = std::max<int64_t>(
        v.max_worker_tokens,
        static_cast<int64_t>(w->info.kv_num_blocks()) * w->info.kv_block_size());
    const double step_ms = w->load->last_report().avg_step_ms;
    for (uint64_t id : w->requests) {
      auto it = requests_.find(id);
      if (it == requests_.end()) continue;
      const Request& r = *it->second;
      const int left = std::max(0, r.req.max_tokens - static_cast<int>(r.generated.size()));
      v.running_remaining.push_back(absl::Milliseconds(step_ms * left));
    }
  }
  v.mean_service = service_time_.Get();
  v.mean_first_token = first_token_time_.Get();
  return v;
}

void SchedulerCore::Admit(NewRequest nr) {
  auto r = std::make_unique<Request>();
  r->id = nr.id;
  r->call = std::move(nr.call);
  r->req = std::move(nr.request);
  r->prompt = std::move(nr.prompt);
  r->arrival = nr.arrival;
  r->deadline = nr.deadline;
  r->reserved = nr.reserved;
  if (!r->req.has_seed) r->req.sampling.set_seed(absl::Uniform<uint64_t>(rng_));
  if (!r->req.stops.empty()) r->stop = std::make_unique<StopMatcher>(r->req.stops);
  if (r->call->cancelled()) {
    ReleaseReservation(*r);
    return metrics_->RequestDone(grpc::StatusCode::CANCELLED);
  }
  if (!have_model_) return Refuse(*r, absl::UnavailableError("no live worker"), {}, "no_worker");
  const QueueEntry entry = r->Entry();
  const ClusterView view = View();
  // The edge already checked the prompt, the workers and the deadline against the view it
  // saw; re-deciding here with a newer one would only move refusals back behind the core's
  // work. What can have changed since (every worker gone) is still caught.
  if (!r->reserved) {
    if (absl::Status s = CheckPrompt(r->prompt, r->req, limits_); !s.ok()) {
      return Refuse(*r, s, {}, "invalid");
    }
  }
  if (absl::Status s = CheckServable(entry, view); !s.ok()) {
    return Refuse(*r, s, {}, s.code() == absl::StatusCode::kUnavailable ? "no_worker" : "invalid");
  }
  if (!r->reserved) {
    Refusal late = CheckDeadline(entry, queue_.CountAhead(entry.priority), absl::Now(), view);
    if (!late.status.ok()) return Refuse(*r, late.status, late.retry_after, late.metric_reason);
  }
  // Requests put back in front (PushFront ignores the limits) can fill the queue beyond what
  // the reservations count, so the queue's own limits still have the last word.
  if (absl::Status s = queue_.Push(entry); !s.ok()) {
    return Refuse(*r, s, RetryHintForFullQueue(queue_, view), "queue_full");
  }
  const uint64_t id = r->id;
  metrics_->AddPromptTokens(static_cast<double>(r->prompt.size()));
  r->call->SetCancelHook([this, id] { Post([this, id] { OnClientGone(id); }); });
  requests_[id] = std::move(r);
  TryDispatch();
}

void SchedulerCore::Refuse(Request& r, absl::Status status, absl::Duration retry_after,
                           const std::string& reason) {
  ReleaseReservation(r);
  metrics_->Rejected(reason);
  grpc::Status g = service::ToGrpcStatus(status);
  metrics_->RequestDone(g.error_code());
  r.call->Finish(std::move(g), retry_after);
  metrics_->ObserveRejection(absl::ToDoubleSeconds(absl::Now() - r.arrival), "core");
}

void SchedulerCore::ReleaseReservation(Request& r) {
  if (!r.reserved) return;
  r.reserved = false;
  reservations_.Release(r.req.priority, static_cast<int>(r.prompt.size()));
}

void SchedulerCore::TryDispatch() {
  if (queue_.empty()) return;
  std::vector<WorkerLoad*> loads;
  for (auto& w : workers_) loads.push_back(w->up ? w->load.get() : nullptr);
  PrefixRouting routing;
  routing.affinity = &affinity_;
  routing.prompt_of = [this](uint64_t id) -> const std::vector<int32_t>& {
    return requests_.at(id)->prompt;
  };
  std::vector<DispatchBatch> batches =
      PlanDispatch(&queue_, loads, options_.max_admissions_per_message, &routing);
  // The slots just taken stop counting as places before the dispatched requests' places are
  // given back, so the edge never sees more room than there is.
  reservations_.SetFreeSlots(FreeSlots());
  const absl::Time now = absl::Now();
  for (DispatchBatch& b : batches) {
    Worker& w = *workers_[b.worker];
    if (b.affinity_routed > 0) {
      metrics_->AffinityRouted(b.affinity_routed, static_cast<double>(b.matched_tokens));
    }
    v1::SessionRequest message;
    for (const QueueEntry& e : b.entries) {
      Request& r = *requests_.at(e.id);
      v1::Admission* a = message.add_admit();
      a->set_request_id(r.id);
      a->mutable_prompt_token_ids()->Add(r.prompt.begin(), r.prompt.end());
      *a->mutable_sampling() = r.req.sampling;
      a->set_max_tokens(r.req.max_tokens);
      a->mutable_stop_token_ids()->Add(r.req.stop_token_ids.begin(), r.req.stop_token_ids.end());
      a->set_ignore_eos(r.req.ignore_eos);
      r.phase = Request::Phase::kRunning;
      r.worker = b.worker;
      r.worker_epoch = w.epoch;
      r.worker_live = true;
      if (r.admitted == absl::InfinitePast()) {
        r.admitted = now;
        metrics_->ObserveQueueTime(absl::ToDoubleSeconds(now - r.arrival));
      }
      w.requests.insert(r.id);
      ReleaseReservation(r);  // out of the queue: its place is free for the edge
    }
    message.set_seq(w.load->Commit());
    // A session that just died answers false; its on_down requeues these requests.
    w.link->Send(w.epoch, std::move(message));
  }
}

void SchedulerCore::ConnectWorkers(absl::Time now) {
  for (auto& w : workers_) {
    if (w->up || w->connecting || now < w->retry_at) continue;
    uint64_t epoch = w->link->Connect();
    if (epoch == 0) continue;  // the previous attempt is still winding down
    w->connecting = true;
    w->epoch = epoch;
  }
}

void SchedulerCore::OnWorkerUp(int index, uint64_t epoch, const v1::WorkerInfo& info) {
  Worker& w = *workers_[index];
  if (epoch != w.epoch) return;
  w.connecting = false;
  const std::string& expected = have_model_ ? limits_.name : options_.model_name;
  if (!expected.empty() && info.model() != expected) {
    service::LogError("worker serves another model; ignored",
                      {{"worker", w.link->address()}, {"model", info.model()},
                       {"expected", expected}});
    return;
  }
  if (!have_model_) {
    have_model_ = true;
    limits_.name = info.model();
    limits_.context_length = static_cast<int>(info.context_length());
    limits_.vocab_size = static_cast<int>(info.vocab_size());
  }
  w.up = true;
  w.info = info;
  w.backoff = options_.reconnect_min;
  w.load = std::make_unique<WorkerLoad>(static_cast<int>(info.max_sequences()),
                                        info.prefix_caching());
  affinity_.ForgetWorker(index);  // a reconnected worker may have restarted with an empty cache
  service::LogInfo("worker up", {{"worker", w.link->address()}, {"model", info.model()},
                                 {"kv_blocks", info.kv_num_blocks()},
                                 {"max_sequences", info.max_sequences()}});
  int live = 0;
  for (auto& x : workers_) live += x->up ? 1 : 0;
  if (live_listener_) live_listener_(live);
  Publish();
}

void SchedulerCore::OnWorkerDown(int index, uint64_t epoch, const absl::Status& status) {
  Worker& w = *workers_[index];
  if (epoch != w.epoch) return;
  const bool was_up = w.up;
  w.up = false;
  w.connecting = false;
  w.retry_at = absl::Now() + w.backoff;
  w.backoff = std::min(w.backoff * 2, options_.reconnect_max);
  w.load.reset();
  affinity_.ForgetWorker(index);
  std::set<uint64_t> ids;
  ids.swap(w.requests);
  for (uint64_t id : ids) {
    auto it = requests_.find(id);
    if (it == requests_.end()) continue;
    Request& r = *it->second;
    r.worker_live = false;
    if (r.client_done) {
      MaybeErase(id);
    } else if (!Requeue(r)) {
      FinishError(r, absl::UnavailableError(
                         absl::StrCat("worker ", w.link->address(), " died: ", status.message())));
    }
  }
  if (was_up) {
    service::LogWarning("worker down", {{"worker", w.link->address()},
                                        {"error", std::string(status.message())},
                                        {"requests", static_cast<int64_t>(ids.size())}});
    int live = 0;
    for (auto& x : workers_) live += x->up ? 1 : 0;
    if (live_listener_) live_listener_(live);
  }
  TryDispatch();
  Publish();
}

void SchedulerCore::OnClientGone(uint64_t id) {
  auto it = requests_.find(id);
  if (it == requests_.end() || it->second->client_done) return;
  Request& r = *it->second;
  // The deadline this server sees was set when the call arrived, a moment after the client
  // started its own clock; a client whose deadline fired cancels the call that moment before
  // this one passes. A client leaving that close to its deadline is counted as expired.
  constexpr absl::Duration kDeadlineSlack = absl::Milliseconds(250);
  const bool expired = absl::Now() + kDeadlineSlack >= r.deadline;
  FinishError(r, expired ? absl::DeadlineExceededError("deadline passed")
                         : absl::CancelledError("client cancelled"));
}

void SchedulerCore::CancelOnWorker(Request& r) {
  if (!r.worker_live || r.worker < 0) return;
  Worker& w = *workers_[r.worker];
  if (!w.up || w.epoch != r.worker_epoch) return;
  v1::SessionRequest message;
  message.add_cancel(r.id);
  message.set_seq(w.load->Commit());
  w.link->Send(w.epoch, std::move(message));
}

void SchedulerCore::Publish() {
  SchedulerSnapshot s;
  s.have_model = have_model_;
  s.limits = limits_;
  ClusterView view = View();
  s.live_workers = view.live_workers;
  s.queued = queue_.size();
  for (auto& w : workers_) s.running += static_cast<int>(w->requests.size());
  s.max_queued = options_.queue.max_requests;
  s.full_queue_retry_hint = RetryHintForFullQueue(queue_, view);
  s.cluster = std::make_shared<const ClusterView>(view);
  reservations_.SetFreeSlots(view.free_slots);
  int streams = 0;
  for (auto& d : detok_) streams += d->up ? 1 : 0;
  metrics_->SetQueueDepth(s.queued);
  metrics_->SetRunning(s.running);
  metrics_->SetLiveWorkers(s.live_workers);
  metrics_->SetDetokStreams(streams);
  absl::MutexLock lock(&mu_);
  snapshot_ = std::move(s);
  live_requests_ = static_cast<int64_t>(requests_.size());
}

}  // namespace corvid::scheduler
