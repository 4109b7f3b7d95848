#include "services/scheduler/generation_service.h"

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "services/common/status_convert.h"
#include "services/scheduler/edge_admission.h"
#include "services/scheduler/generate_call.h"
#include "services/scheduler/request_validation.h"

namespace corvid::scheduler {

void GenerationService::Refuse(CallHandle& call, absl::Time arrival, const absl::Status& status,
                               const std::string& reason, absl::Duration retry_after) {
  metrics_->Rejected(reason);
  grpc::Status g = service::ToGrpcStatus(status);
  metrics_->RequestDone(g.error_code());
  call.Finish(std::move(g), retry_after);
  metrics_->ObserveRejection(absl::ToDoubleSeconds(absl::Now() - arrival), "edge");
}

void GenerationService::AdmitOrRefuse(NewRequest nr, const SchedulerSnapshot& snap) {
  QueueEntry entry;
  entry.id = nr.id;
  entry.priority = nr.request.priority;
  entry.prompt_tokens = static_cast<int>(nr.prompt.size());
  entry.max_tokens = nr.request.max_tokens;
  entry.arrival = nr.arrival;
  entry.deadline = nr.deadline;
  EdgeView view;
  view.limits = &snap.limits;
  view.cluster = snap.cluster.get();
  view.full_queue_retry_hint = snap.full_queue_retry_hint;
  Refusal refusal =
      AdmitAtEdge(entry, nr.prompt, nr.request, view, absl::Now(), core_->reservations());
  if (!refusal.status.ok()) {
    return Refuse(*nr.call, nr.arrival, refusal.status, refusal.metric_reason,
                  refusal.retry_after);
  }
  nr.reserved = true;
  core_->Submit(std::move(nr));
}

grpc::ServerWriteReactor<v1::GenerateResponse>* GenerationService::Generate(
    grpc::CallbackServerContext* context, const v1::GenerateRequest* request) {
  const absl::Time arrival = absl::Now();
  auto* call = new GenerateCall(context);
  std::shared_ptr<CallHandle> handle = call->handle();
  std::optional<service::AdmissionGate::Ticket> ticket = gate_->TryEnter();
  if (!ticket) {
    Refuse(*handle, arrival, absl::UnavailableError("scheduler is draining"), "draining");
    return call;
  }
  call->HoldTicket(std::move(*ticket));
  const SchedulerSnapshot snap = core_->Snapshot();
  if (!snap.have_model || snap.live_workers == 0) {
    Refuse(*handle, arrival, absl::UnavailableError("no live worker"), "no_worker");
    return call;
  }
  absl::StatusOr<ResolvedRequest> resolved = ValidateRequest(*request, snap.limits);
  if (!resolved.ok()) {
    Refuse(*handle, arrival, resolved.status(), "invalid");
    return call;
  }
  // An early look before tokenizing; the exact decision is AdmitAtEdge's, once ids are known.
  if (resolved->text_prompt && core_->reservations()->full()) {
    Refuse(*handle, arrival,
           absl::ResourceExhaustedError(absl::StrCat("queue full: ", snap.max_queued,
                                                     " requests queued")),
           "queue_full", snap.full_queue_retry_hint);
    return call;
  }
  const uint64_t id = next_id_.fetch_add(1);
  if (resolved->request_id.empty()) resolved->request_id = absl::StrCat("corvid-", id);
  auto nr = std::make_shared<NewRequest>();
  nr->id = id;
  nr->call = handle;
  nr->request = std::move(*resolved);
  nr->arrival = arrival;
  const auto deadline = context->deadline();
  if (deadline != std::chrono::system_clock::time_point::max()) {
    nr->deadline = absl::FromChrono(deadline);
  }
  if (!nr->request.text_prompt) {
    nr->prompt.assign(request->token_ids().ids().begin(), request->token_ids().ids().end());
    AdmitOrRefuse(std::move(*nr), snap);
    return call;
  }
  tokenizers_->Encode(request->text(), nr->request.add_special_tokens, nr->deadline,
                      [this, nr](absl::StatusOr<std::vector<int32_t>> ids) {
                        if (!ids.ok()) {
                          return Refuse(*nr->call, nr->arrival, ids.status(), "tokenizer");
                        }
                        nr->prompt = std::move(*ids);
                        // Tokenizing took time: decide on the core's newest view.
                        AdmitOrRefuse(std::move(*nr), core_->Snapshot());
                      });
  return call;
}

grpc::ServerUnaryReactor* GenerationService::ListModels(grpc::CallbackServerContext* context,
                                                        const v1::ListModelsRequest* request,
                                                        v1::ListModelsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const SchedulerSnapshot snap = core_->Snapshot();
  if (snap.have_model) {
    v1::ModelInfo* m = response->add_models();
    m->set_name(snap.limits.name);
    m->set_context_length(static_cast<uint32_t>(snap.limits.context_length));
    m->set_vocab_size(static_cast<uint32_t>(snap.limits.vocab_size));
    m->set_live_workers(static_cast<uint32_t>(snap.live_workers));
  }
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace corvid::scheduler
