#include "services/worker/worker_service.h"

#include "services/worker/session_reactor.h"

namespace corvid::worker {
namespace {

// A Session that is refused outright (still loading, or draining).
class RefusedSession
    : public grpc::ServerBidiReactor<v1::SessionRequest, v1::SessionResponse> {
 public:
  explicit RefusedSession(grpc::Status status) { Finish(status); }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::ServerUnaryReactor* WorkerService::Info(grpc::CallbackServerContext* context,
                                              const v1::WorkerInfoRequest* request,
                                              v1::WorkerInfo* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  WorkerCore* core = core_.load();
  if (core == nullptr) {
    reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the model is loading"));
    return reactor;
  }
  *response = core->Info();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerBidiReactor<v1::SessionRequest, v1::SessionResponse>* WorkerService::Session(
    grpc::CallbackServerContext* context) {
  WorkerCore* core = core_.load();
  if (core == nullptr) {
    return new RefusedSession(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the model is loading"));
  }
  std::optional<service::AdmissionGate::Ticket> ticket;
  if (gate_ != nullptr) {
    ticket = gate_->TryEnter();
    if (!ticket) {
      return new RefusedSession(grpc::Status(grpc::StatusCode::UNAVAILABLE, "worker is draining"));
    }
  }
  return new SessionReactor(core, std::move(ticket));
}

}  // namespace corvid::worker
