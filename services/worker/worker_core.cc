#include "services/worker/worker_core.h"

#include <algorithm>
#include <chrono>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"

namespace corvid::worker {
namespace {

v1::SequenceFinish ToProto(FinishReason r) {
  switch (r) {
    case FinishReason::kNone: return v1::SEQUENCE_FINISH_NONE;
    case FinishReason::kLength: return v1::SEQUENCE_FINISH_LENGTH;
    case FinishReason::kStop: return v1::SEQUENCE_FINISH_STOP;
    case FinishReason::kCancelled: return v1::SEQUENCE_FINISH_CANCELLED;
  }
  return v1::SEQUENCE_FINISH_ERROR;
}

GenerationRequest ToEngineRequest(int64_t engine_id, const v1::Admission& a) {
  GenerationRequest r;
  r.id = engine_id;
  r.prompt.assign(a.prompt_token_ids().begin(), a.prompt_token_ids().end());
  const v1::WorkerSampling& s = a.sampling();
  r.sampling.temperature = s.temperature();
  r.sampling.top_k = s.top_k();
  r.sampling.top_p = s.top_p();
  r.sampling.min_p = s.min_p();
  r.sampling.repetition_penalty = s.repetition_penalty();
  r.sampling.presence_penalty = s.presence_penalty();
  r.sampling.frequency_penalty = s.frequency_penalty();
  r.sampling.seed = s.seed();
  r.sampling.logprobs = s.logprobs();
  r.sampling.top_logprobs = static_cast<int>(s.top_logprobs());
  r.has_seed = true;  // the scheduler always resolves the seed
  r.max_tokens = static_cast<int>(a.max_tokens());
  r.stop_token_ids.assign(a.stop_token_ids().begin(), a.stop_token_ids().end());
  r.ignore_eos = a.ignore_eos();
  return r;
}

void AppendLogprob(const SampledToken& t, v1::SequenceUpdate* u) {
  v1::TokenLogprob* lp = u->add_logprobs();
  lp->set_token_id(t.token);
  lp->set_logprob(t.logprob);
  for (const auto& [id, logprob] : t.top_logprobs) {
    v1::TopLogprob* top = lp->add_top_logprobs();
    top->set_token_id(id);
    top->set_logprob(logprob);
  }
}

}  // namespace

WorkerCore::WorkerCore(std::unique_ptr<Engine> engine, const WorkerCoreOptions& options)
    : options_(options),
      engine_(std::move(engine)),
      model_config_(engine_->config()),
      initial_capacity_(engine_->Capacity()) {
  {
    absl::MutexLock lock(&mu_);
    capacity_ = initial_capacity_;
  }
  thread_ = std::thread([this] { EngineLoop(); });
}

WorkerCore::~WorkerCore() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
}

v1::WorkerInfo WorkerCore::Info() const {
  v1::WorkerInfo info;
  info.set_model(options_.model_name);
  info.set_backend(options_.backend_name);
  info.set_context_length(options_.context_length);
  info.set_vocab_size(model_config_.vocab_size);
  for (int id : model_config_.eos_token_ids) info.add_eos_token_ids(id);
  info.set_bos_token_id(model_config_.bos_token_id);
  info.set_kv_block_size(initial_capacity_.block_size);
  info.set_kv_num_blocks(initial_capacity_.num_kv_blocks);
  info.set_max_sequences(options_.max_sequences);
  info.set_max_running(options_.max_running);
  info.set_max_batched_tokens(options_.max_batched_tokens);
  info.set_prefix_caching(options_.prefix_caching);
  absl::MutexLock lock(&mu_);
  info.set_decode_step_ms(stats_.decode_step_ms.value);
  info.set_prefill_step_ms(stats_.prefill_step_ms.value);
  info.set_prefill_us_per_token(stats_.prefill_us_per_token.value);
  return info;
}

int WorkerCore::OpenSession(std::shared_ptr<SessionSink> sink) {
  absl::MutexLock lock(&mu_);
  int id = next_session_++;
  sessions_[id].sink = std::move(sink);
  return id;
}

void WorkerCore::CloseSession(int session) {
  absl::MutexLock lock(&mu_);
  auto it = sessions_.find(session);
  if (it == sessions_.end()) return;
  for (const auto& [request_id, engine_id] : it->second.engine_ids) {
    live_[engine_id].session = 0;  // orphaned: its events are dropped
    if (engine_alive_) {
      inbox_.push_back(Command{true, engine_id, {}});
    } else {
      Release(engine_id);
    }
  }
  sessions_.erase(it);
}

void WorkerCore::Apply(int session, const v1::SessionRequest& request) {
  absl::MutexLock lock(&mu_);
  auto it = sessions_.find(session);
  if (it == sessions_.end()) return;
  Session& s = it->second;
  for (const v1::Admission& a : request.admit()) Admit(s, session, a);
  for (uint64_t id : request.cancel()) {
    auto e = s.engine_ids.find(id);
    if (e != s.engine_ids.end()) inbox_.push_back(Command{true, e->second, {}});
  }
  s.applied_seq = request.seq();
  s.dirty = true;
}

void WorkerCore::Admit(Session& s, int session, const v1::Admission& a) {
  const uint64_t id = a.request_id();
  if (s.engine_ids.contains(id)) {
    return Refuse(s, id, v1::REFUSAL_REASON_DUPLICATE_ID, "request id is live in this session");
  }
  if (!engine_alive_) return Refuse(s, id, v1::REFUSAL_REASON_ENGINE_DEAD, "engine failed");
  if (draining_) return Refuse(s, id, v1::REFUSAL_REASON_DRAINING, "worker is draining");
  const int bs = std::max(initial_capacity_.block_size, 1);
  const int64_t tokens = static_cast<int64_t>(a.prompt_token_ids_size()) + a.max_tokens();
  const int blocks = static_cast<int>((tokens + bs - 1) / bs);
  if (static_cast<int>(live_.size()) >= options_.max_sequences) {
    return Refuse(s, id, v1::REFUSAL_REASON_NO_CAPACITY,
                  absl::StrCat("all ", options_.max_sequences, " sequence slots taken"));
  }
  if (reserved_blocks_ + blocks > initial_capacity_.num_kv_blocks) {
    return Refuse(s, id, v1::REFUSAL_REASON_NO_CAPACITY,
                  absl::StrCat("needs ", blocks, " KV blocks, ",
                               initial_capacity_.num_kv_blocks - reserved_blocks_, " left"));
  }
  const int64_t engine_id = next_engine_id_++;
  live_[engine_id] = LiveRequest{session, id, blocks, a.sampling().logprobs()};
  reserved_blocks_ += blocks;
  s.engine_ids[id] = engine_id;
  inbox_.push_back(Command{false, engine_id, ToEngineRequest(engine_id, a)});
  ++stats_.admitted;
  stats_.prompt_tokens += a.prompt_token_ids_size();
}

void WorkerCore::Refuse(Session& s, uint64_t id, v1::RefusalReason reason, std::string message) {
  v1::AdmissionRefusal r;
  r.set_request_id(id);
  r.set_reason(reason);
  r.set_message(std::move(message));
  s.refusals.push_back(std::move(r));
  s.dirty = true;
  ++stats_.refused;
}

bool WorkerCore::TakeOutput(int session, v1::SessionResponse* out) {
  absl::MutexLock lock(&mu_);
  auto it = sessions_.find(session);
  if (it == sessions_.end() || !it->second.dirty) return false;
  Session& s = it->second;
  out->Clear();
  for (auto& [id, update] : s.pending) *out->add_updates() = std::move(update);
  for (auto& refusal : s.refusals) *out->add_refusals() = std::move(refusal);
  s.pending.clear();
  s.refusals.clear();
  FillCapacity(s, out->mutable_capacity());
  s.dirty = false;
  return true;
}

void WorkerCore::FillCapacity(const Session& s, v1::Capacity* c) const {
  c->set_applied_seq(s.applied_seq);
  c->set_available_blocks(initial_capacity_.num_kv_blocks - reserved_blocks_);
  c->set_free_blocks(capacity_.free_kv_blocks);
  c->set_total_blocks(initial_capacity_.num_kv_blocks);
  c->set_block_size(initial_capacity_.block_size);
  c->set_free_slots(std::max(0, options_.max_sequences - static_cast<int>(live_.size())));
  c->set_running(capacity_.running);
  c->set_waiting(capacity_.waiting);
  c->set_steps(stats_.steps);
  c->set_last_step_ms(stats_.last_step_ms);
  c->set_avg_step_ms(stats_.step_ms.value);
  c->set_draining(draining_);
}

void WorkerCore::EngineLoop() {
  while (RunOnce()) {
  }
}

bool WorkerCore::RunOnce() {
  std::deque<Command> commands;
  {
    absl::MutexLock lock(&mu_);
    if (!(engine_alive_ && engine_->HasWork())) {
      mu_.Await(absl::Condition(
          +[](WorkerCore* c) ABSL_NO_THREAD_SAFETY_ANALYSIS {
            return c->stop_ || !c->inbox_.empty();
          },
          this));
    }
    if (stop_) return false;
    commands.swap(inbox_);
  }
  std::vector<std::pair<int64_t, absl::Status>> failed = ApplyCommands(commands);
  std::vector<TokenEvent> events;
  StepStats step;
  absl::Status status = absl::OkStatus();
  double step_ms = -1;
  if (engine_alive_ && engine_->HasWork()) {
    auto start = std::chrono::steady_clock::now();
    status = engine_->Step(&events, &step);
    if (options_.min_step_ms > 0) {
      std::this_thread::sleep_until(
          start + std::chrono::duration<double, std::milli>(options_.min_step_ms));
    }
    step_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                  .count();
  }
  std::vector<std::shared_ptr<SessionSink>> sinks;
  {
    absl::MutexLock lock(&mu_);
    RefuseFailedAdds(failed);
    if (!status.ok()) {
      engine_alive_ = false;
      FailAll(absl::StrCat("engine step failed: ", status.ToString()));
    } else {
      Deliver(events);
      if (step_ms >= 0) RecordStep(step_ms, step);
    }
    sinks = DirtySinks();
  }
  if (step_ms >= 0 && status.ok() && options_.on_step) options_.on_step(step_ms, step);
  notifier_.Post(sinks);  // the writes happen off this thread (sink_notifier.h)
  return true;
}

std::vector<std::pair<int64_t, absl::Status>> WorkerCore::ApplyCommands(
    std::deque<Command>& commands) {
  std::vector<std::pair<int64_t, absl::Status>> failed;
  if (!engine_alive_) return failed;
  for (Command& c : commands) {
    if (c.cancel) {
      engine_->Cancel(c.engine_id);
      continue;
    }
    absl::Status st = engine_->Add(std::move(c.request));
    if (!st.ok()) failed.emplace_back(c.engine_id, std::move(st));
  }
  return failed;
}

void WorkerCore::RefuseFailedAdds(const std::vector<std::pair<int64_t, absl::Status>>& failed) {
  for (const auto& [engine_id, st] : failed) {
    auto it = live_.find(engine_id);
    if (it == live_.end()) continue;
    auto s = sessions_.find(it->second.session);
    if (s != sessions_.end()) {
      Refuse(s->second, it->second.request_id,
             st.code() == absl::StatusCode::kResourceExhausted ? v1::REFUSAL_REASON_NO_CAPACITY
                                                                : v1::REFUSAL_REASON_INVALID,
             std::string(st.message()));
    }
    Release(engine_id);
  }
}

void WorkerCore::RecordStep(double step_ms, const StepStats& step) {
  capacity_ = engine_->Capacity();
  ++stats_.steps;
  stats_.last_step_ms = step_ms;
  stats_.step_ms.Add(step_ms);
  if (step.num_prefill_tokens > 0) {
    stats_.prefill_step_ms.Add(step_ms);
    stats_.prefill_us_per_token.Add(step_ms * 1000.0 / step.num_prefill_tokens);
  } else if (step.num_decode_tokens > 0) {
    stats_.decode_step_ms.Add(step_ms);
  }
  for (auto& [id, s] : sessions_) s.dirty = true;  // capacity goes out every step
}

void WorkerCore::Deliver(const std::vector<TokenEvent>& events) {
  for (const TokenEvent& ev : events) {
    auto it = live_.find(ev.id);
    if (it == live_.end()) continue;
    auto s = sessions_.find(it->second.session);
    if (s != sessions_.end()) {
      v1::SequenceUpdate& u = s->second.pending[it->second.request_id];
      u.set_request_id(it->second.request_id);
      if (ev.token.token >= 0) {
        u.add_token_ids(ev.token.token);
        if (it->second.logprobs) AppendLogprob(ev.token, &u);
      }
      u.set_finish(ToProto(ev.finish));
      s->second.dirty = true;
    }
    if (ev.token.token >= 0) ++stats_.generated_tokens;
    if (ev.finish == FinishReason::kNone) continue;
    if (ev.finish == FinishReason::kCancelled) {
      ++stats_.cancelled;
    } else {
      ++stats_.finished;
    }
    Release(ev.id);
  }
}

void WorkerCore::Release(int64_t engine_id) {
  auto it = live_.find(engine_id);
  if (it == live_.end()) return;
  reserved_blocks_ -= it->second.blocks;
  auto s = sessions_.find(it->second.session);
  if (s != sessions_.end()) s->second.engine_ids.erase(it->second.request_id);
  live_.erase(it);
}

void WorkerCore::FailAll(const std::string& error) {
  std::vector<int64_t> ids;
  for (const auto& [engine_id, live] : live_) ids.push_back(engine_id);
  for (int64_t engine_id : ids) {
    const LiveRequest& live = live_[engine_id];
    auto s = sessions_.find(live.session);
    if (s != sessions_.end()) {
      v1::SequenceUpdate& u = s->second.pending[live.request_id];
      u.set_request_id(live.request_id);
      u.set_finish(v1::SEQUENCE_FINISH_ERROR);
      u.set_error(error);
      s->second.dirty = true;
    }
    ++stats_.failed;
    Release(engine_id);
  }
  for (auto& [id, s] : sessions_) s.dirty = true;
}

std::vector<std::shared_ptr<SessionSink>> WorkerCore::DirtySinks() {
  std::vector<std::shared_ptr<SessionSink>> sinks;
  for (auto& [id, s] : sessions_) {
    if (s.dirty && s.sink) sinks.push_back(s.sink);
  }
  return sinks;
}

void WorkerCore::StartDraining() {
  std::vector<std::shared_ptr<SessionSink>> sinks;
  {
    absl::MutexLock lock(&mu_);
    draining_ = true;
    for (auto& [id, s] : sessions_) s.dirty = true;
    sinks = DirtySinks();
  }
  for (auto& sink : sinks) sink->Notify();
}

bool WorkerCore::Idle() const {
  absl::MutexLock lock(&mu_);
  return live_.empty();
}

WorkerStats WorkerCore::Stats() const {
  absl::MutexLock lock(&mu_);
  WorkerStats s = stats_;
  s.live_requests = static_cast<int>(live_.size());
  s.running = capacity_.running;
  s.waiting = capacity_.waiting;
  s.inbox = static_cast<int>(inbox_.size());
  s.total_blocks = initial_capacity_.num_kv_blocks;
  s.free_blocks = capacity_.free_kv_blocks;
  s.cached_blocks = capacity_.cached_kv_blocks;
  s.reserved_blocks = reserved_blocks_;
  s.block_size = initial_capacity_.block_size;
  s.sessions = static_cast<int>(sessions_.size());
  s.draining = draining_;
  s.engine_alive = engine_alive_;
  return s;
}

}  // namespace corvid::worker
