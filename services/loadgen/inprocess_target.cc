#include "services/loadgen/inprocess_target.h"

#include <chrono>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/model_config.h"
#include "engine/status_macros.h"
#include "services/worker/backend_factory.h"

namespace corvid::loadgen {

absl::StatusOr<std::unique_ptr<InProcessTarget>> InProcessTarget::Create(InProcessOptions options) {
  RETURN_IF_ERROR(worker::ResolveWorkerConfig(&options.worker));
  const worker::WorkerConfig& w = options.worker;
  ASSIGN_OR_RETURN(ModelConfig model, ModelConfig::FromDir(w.model_dir));
  auto target = std::unique_ptr<InProcessTarget>(new InProcessTarget());
  ASSIGN_OR_RETURN(target->weights_, WeightStore::Open(w.model_dir, model));
  ASSIGN_OR_RETURN(std::unique_ptr<Backend> backend,
                   worker::CreateBackend(w, model, *target->weights_));
  const std::string backend_name = backend->Name();
  EngineOptions engine_options;  // as WorkerServer::Load sets them
  engine_options.max_num_seqs = static_cast<int>(w.max_running);
  engine_options.max_num_batched_tokens = static_cast<int>(w.max_batched_tokens);
  engine_options.max_model_len = static_cast<int>(w.max_model_len);
  engine_options.enable_prefix_caching = w.enable_prefix_caching;
  ASSIGN_OR_RETURN(target->engine_, Engine::Create(std::move(backend), engine_options));
  auto tokenizer = LoadTokenizer(w.model_dir);
  if (tokenizer.ok()) target->tokenizer_ = std::move(tokenizer).value();
  target->info_.vocab_size = model.vocab_size;
  target->info_.context_length =
      w.max_model_len > 0 ? static_cast<int>(w.max_model_len) : model.max_position_embeddings;
  target->info_.description =
      absl::StrCat("in-process engine (", backend_name, ", model ", w.model_dir, ")");
  target->options_ = std::move(options);
  target->thread_ = std::thread([t = target.get()] { t->Loop(); });
  return target;
}

InProcessTarget::~InProcessTarget() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void InProcessTarget::Start(const RequestSpec& spec, RequestRecord* record,
                            std::function<void()> done) {
  const RequestOptions& o = options_.request;
  record->deadline_ms = o.deadline_ms;
  Pending p;
  p.record = record;
  p.done = std::move(done);
  p.request.max_tokens = spec.max_tokens;
  p.request.sampling.temperature = o.temperature;
  p.request.ignore_eos = o.ignore_eos;
  if (spec.text.empty()) {
    p.request.prompt = spec.token_ids;
  } else {
    absl::StatusOr<std::vector<int32_t>> ids =
        tokenizer_ ? tokenizer_->Encode(spec.text, /*add_special_tokens=*/true)
                   : absl::FailedPreconditionError("the model has no tokenizer for text prompts");
    if (!ids.ok()) {
      record->end_ns = NowNs();
      record->code = ids.status().code();
      record->error = std::string(ids.status().message());
      p.done();
      return;
    }
    p.request.prompt = std::move(ids).value();
  }
  record->prompt_tokens = static_cast<int64_t>(p.request.prompt.size());
  {
    std::lock_guard<std::mutex> lock(mu_);
    inbox_.push_back(std::move(p));
  }
  cv_.notify_one();
}

void InProcessTarget::Loop() {
  std::deque<Pending> incoming;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !inbox_.empty() || !live_.empty(); });
      if (stop_) return;
      incoming.swap(inbox_);
    }
    RunOnce(incoming);
    incoming.clear();
  }
}

void InProcessTarget::RunOnce(std::deque<Pending>& incoming) {
  AddIncoming(incoming);
  ExpireDeadlines(NowNs());
  AdmitBacklog();
  if (!engine_->HasWork()) {
    // Requests are live yet the engine has nothing to step: it lost them (a bug). Fail them
    // rather than spin.
    if (in_engine_ > 0) FinishAll(absl::StatusCode::kInternal, "engine lost the request", NowNs());
    return;
  }
  std::vector<TokenEvent> events;
  const auto step_start = std::chrono::steady_clock::now();
  absl::Status stepped = engine_->Step(&events);
  if (options_.worker.min_step_ms > 0) {  // paced as corvid-worker --min-step-ms paces
    std::this_thread::sleep_until(
        step_start + std::chrono::duration<double, std::milli>(options_.worker.min_step_ms));
  }
  const int64_t now = NowNs();
  if (!stepped.ok()) {
    engine_failed_ = true;
    FinishAll(absl::StatusCode::kUnavailable, std::string(stepped.message()), now);
    return;
  }
  for (const TokenEvent& e : events) {
    auto it = live_.find(e.id);
    if (it == live_.end()) continue;
    if (e.token.token >= 0) it->second.record->chunks.push_back({now, 1});
    if (e.finish == FinishReason::kNone) continue;
    if (it->second.expired) {
      Finish(e.id, absl::StatusCode::kDeadlineExceeded, "deadline passed", now);
    } else if (e.finish == FinishReason::kCancelled) {
      Finish(e.id, absl::StatusCode::kCancelled, "cancelled", now);
    } else {
      Finish(e.id, absl::StatusCode::kOk, "", now);
    }
  }
}

void InProcessTarget::AddIncoming(std::deque<Pending>& incoming) {
  const double deadline_ms = options_.request.deadline_ms;
  for (Pending& p : incoming) {
    const int64_t id = next_id_++;
    p.request.id = id;
    Live& live = live_[id];
    live.record = p.record;
    live.done = std::move(p.done);
    live.request = std::move(p.request);
    if (deadline_ms > 0) {
      live.deadline_ns = p.record->sent_ns + static_cast<int64_t>(deadline_ms * 1e6);
    }
    backlog_.push_back(id);
  }
}

void InProcessTarget::AdmitBacklog() {
  const int cap = static_cast<int>(options_.worker.max_sequences);
  while (in_engine_ < cap && !backlog_.empty()) {
    const int64_t id = backlog_.front();
    backlog_.pop_front();
    auto it = live_.find(id);
    if (it == live_.end()) continue;  // expired while waiting
    absl::Status added = engine_failed_ ? absl::UnavailableError("the engine failed a step")
                                        : engine_->Add(std::move(it->second.request));
    if (!added.ok()) {
      Finish(id, added.code(), std::string(added.message()), NowNs());
      continue;
    }
    it->second.in_engine = true;
    ++in_engine_;
  }
}

void InProcessTarget::ExpireDeadlines(int64_t now_ns) {
  std::vector<int64_t> waiting;  // expired before reaching the engine: end them here
  for (auto& [id, live] : live_) {
    if (live.deadline_ns <= 0 || live.expired || now_ns < live.deadline_ns) continue;
    if (!live.in_engine) {
      waiting.push_back(id);
      continue;
    }
    live.expired = true;
    engine_->Cancel(id);  // its kCancelled event comes from the next step
  }
  for (int64_t id : waiting)
    Finish(id, absl::StatusCode::kDeadlineExceeded, "deadline passed", now_ns);
}

void InProcessTarget::FinishAll(absl::StatusCode code, const std::string& error, int64_t now_ns) {
  std::vector<int64_t> ids;
  for (const auto& [id, live] : live_) ids.push_back(id);
  for (int64_t id : ids) Finish(id, code, error, now_ns);
}

void InProcessTarget::Finish(int64_t id, absl::StatusCode code, const std::string& error,
                             int64_t now_ns) {
  auto it = live_.find(id);
  if (it == live_.end()) return;
  Live live = std::move(it->second);
  live_.erase(it);
  if (live.in_engine) --in_engine_;
  live.record->end_ns = now_ns;
  live.record->code = code;
  live.record->error = error;
  live.done();
}

}  // namespace corvid::loadgen
