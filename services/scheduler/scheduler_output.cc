// SchedulerCore: from the workers' per-step messages to the clients' responses.
#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "services/common/logging.h"
#include "services/common/status_convert.h"
#include "services/scheduler/scheduler_core.h"
#include "services/scheduler/scheduler_core_internal.h"

namespace corvid::scheduler {
namespace {

v1::FinishReason ToFinishReason(v1::SequenceFinish f) {
  return f == v1::SEQUENCE_FINISH_STOP ? v1::FINISH_REASON_STOP : v1::FINISH_REASON_LENGTH;
}

double Ms(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }

}  // namespace

void SchedulerCore::OnWorkerMessage(int index, uint64_t epoch, v1::SessionResponse message) {
  Worker& w = *workers_[index];
  if (!w.up || epoch != w.epoch) return;
  const v1::Capacity& c = message.capacity();
  CapacityReport report;
  report.applied_seq = c.applied_seq();
  report.available_blocks = static_cast<int>(c.available_blocks());
  report.free_blocks = static_cast<int>(c.free_blocks());
  report.total_blocks = static_cast<int>(c.total_blocks());
  report.block_size = static_cast<int>(std::max<uint32_t>(c.block_size(), 1));
  report.free_slots = static_cast<int>(c.free_slots());
  report.running = static_cast<int>(c.running());
  report.waiting = static_cast<int>(c.waiting());
  report.avg_step_ms = c.avg_step_ms();
  report.draining = c.draining();
  w.load->OnCapacity(report);
  for (const v1::AdmissionRefusal& refusal : message.refusals()) {
    auto it = requests_.find(refusal.request_id());
    if (it == requests_.end() || w.requests.count(refusal.request_id()) == 0) continue;
    w.requests.erase(refusal.request_id());
    OnRefusal(*it->second, refusal);
  }
  for (v1::SequenceUpdate& u : *message.mutable_updates()) {
    auto it = requests_.find(u.request_id());
    if (it == requests_.end() || w.requests.count(u.request_id()) == 0) continue;
    if (u.finish() != v1::SEQUENCE_FINISH_NONE) w.requests.erase(u.request_id());
    OnUpdate(*it->second, u);
  }
  for (auto& slot : detok_) {
    if (!slot->pending.empty()) FlushDetok(slot->replica);
  }
  TryDispatch();
}

void SchedulerCore::OnRefusal(Request& r, const v1::AdmissionRefusal& refusal) {
  r.worker_live = false;
  if (r.client_done) return MaybeErase(r.id);
  if (refusal.reason() == v1::REFUSAL_REASON_INVALID) {
    return FinishError(r, absl::InvalidArgumentError(refusal.message()));
  }
  // Capacity, draining, duplicate or a dead engine: the request never ran; try again.
  if (!Requeue(r)) {
    FinishError(r, absl::UnavailableError(absl::StrCat("worker refused: ", refusal.message())));
  }
}

void SchedulerCore::OnUpdate(Request& r, v1::SequenceUpdate& u) {
  const bool had_tokens = !r.generated.empty();
  const int count = u.token_ids_size();
  r.generated.insert(r.generated.end(), u.token_ids().begin(), u.token_ids().end());
  if (r.req.sampling.logprobs()) {
    for (auto& lp : *u.mutable_logprobs()) r.logprobs.push_back(std::move(lp));
  }
  switch (u.finish()) {
    case v1::SEQUENCE_FINISH_NONE:
      break;
    case v1::SEQUENCE_FINISH_LENGTH:
    case v1::SEQUENCE_FINISH_STOP:
      r.worker_live = false;
      r.worker_finished = true;
      r.worker_finish = u.finish();
      service_time_.Add(absl::Now() - r.admitted);
      break;
    case v1::SEQUENCE_FINISH_ERROR:
      r.worker_live = false;
      if (r.client_done) return MaybeErase(r.id);
      if (!had_tokens && count == 0 && Requeue(r)) return;
      return FinishError(r, absl::UnavailableError(absl::StrCat("worker failed: ", u.error())));
    default:  // CANCELLED: only ever asked for by us
      r.worker_live = false;
      if (!r.client_done) FinishError(r, absl::UnavailableError("worker cancelled the request"));
      return MaybeErase(r.id);
  }
  if (r.client_done) return MaybeErase(r.id);
  if (count > 0 || r.worker_finished) QueueDetok(r, count, r.worker_finished);
}

void SchedulerCore::Deliver(Request& r, int count, const std::string& raw_text, bool finish) {
  if (r.client_done) return;
  std::string text = raw_text;
  if (r.skip_bytes > 0) {
    const int64_t drop = std::min<int64_t>(r.skip_bytes, static_cast<int64_t>(text.size()));
    text.erase(0, drop);
    r.skip_bytes -= drop;
  }
  r.text_bytes += static_cast<int64_t>(text.size());
  StopMatcher::Result matched;
  if (r.stop != nullptr) {
    matched = r.stop->Append(text);
  } else {
    matched.text = std::move(text);
  }
  count = std::min<int>(count, static_cast<int>(r.generated.size()) - r.delivered);
  v1::GenerateResponse out;
  out.set_request_id(r.req.request_id);
  out.set_text(std::move(matched.text));
  out.mutable_token_ids()->Add(r.generated.begin() + r.delivered,
                               r.generated.begin() + r.delivered + count);
  for (int i = 0; i < count && !r.logprobs.empty(); ++i) {
    *out.add_logprobs() = std::move(r.logprobs.front());
    r.logprobs.pop_front();
  }
  r.delivered += count;
  const absl::Time now = absl::Now();
  if (count > 0) {
    if (r.first_token == absl::InfinitePast()) {
      r.first_token = now;
      metrics_->ObserveTtft(absl::ToDoubleSeconds(now - r.arrival));
      first_token_time_.Add(now - r.admitted);
    } else {
      const double gap = absl::ToDoubleSeconds(now - r.last_emit) / count;
      for (int i = 0; i < count; ++i) metrics_->ObserveItl(gap);
    }
    r.last_emit = now;
    metrics_->AddGeneratedTokens(count);
  }
  const bool done = matched.stopped || finish;
  if (!done) {
    if (count > 0 || !out.text().empty()) r.call->Send(std::move(out));
    return;
  }
  if (!matched.stopped && r.stop != nullptr) out.mutable_text()->append(r.stop->Flush());
  out.set_finish_reason(matched.stopped ? v1::FINISH_REASON_STOP
                                        : ToFinishReason(r.worker_finish));
  out.set_stop(matched.stop);
  v1::Usage* usage = out.mutable_usage();
  usage->set_prompt_tokens(static_cast<uint32_t>(r.prompt.size()));
  usage->set_completion_tokens(static_cast<uint32_t>(r.delivered));
  usage->set_queue_time_ms(Ms(r.admitted - r.arrival));
  usage->set_time_to_first_token_ms(
      r.first_token == absl::InfinitePast() ? 0.0 : Ms(r.first_token - r.arrival));
  usage->set_total_time_ms(Ms(now - r.arrival));
  r.call->Send(std::move(out));
  FinishOk(r);
}

void SchedulerCore::FinishOk(Request& r) {
  r.client_done = true;
  r.call->Finish(grpc::Status::OK);
  metrics_->RequestDone(grpc::StatusCode::OK);
  metrics_->ObserveE2e(absl::ToDoubleSeconds(absl::Now() - r.arrival));
  CancelOnWorker(r);  // a stop string ended it before the worker did
  CloseDetok(r);
  MaybeErase(r.id);
}

void SchedulerCore::FinishError(Request& r, absl::Status status) {
  if (r.client_done) return MaybeErase(r.id);
  r.client_done = true;
  grpc::Status g = service::ToGrpcStatus(status);
  metrics_->RequestDone(g.error_code());
  r.call->Finish(std::move(g));
  if (r.phase == Request::Phase::kQueued) queue_.Remove(r.id);
  ReleaseReservation(r);
  CancelOnWorker(r);
  CloseDetok(r);
  MaybeErase(r.id);
}

bool SchedulerCore::Requeue(Request& r) {
  if (r.client_done || !r.generated.empty() || r.delivered > 0) return false;
  if (r.worker >= 0) workers_[r.worker]->requests.erase(r.id);
  r.phase = Request::Phase::kQueued;
  r.worker = -1;
  r.worker_live = false;
  if (!queue_.PushFront(r.Entry()).ok()) return false;
  metrics_->Retried();
  return true;
}

void SchedulerCore::MaybeErase(uint64_t id) {
  auto it = requests_.find(id);
  if (it == requests_.end()) return;
  Request& r = *it->second;
  if (!r.client_done || r.worker_live || r.detok_open) return;
  ReleaseReservation(r);  // every path out of the queue releases already; this keeps it so
  if (r.detok_slot >= 0) detok_[r.detok_slot]->sequences.erase(id);
  parked_.erase(id);
  requests_.erase(it);
}

}  // namespace corvid::scheduler
