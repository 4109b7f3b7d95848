#include "services/tokenizer/tokenizer_service.h"

#include <chrono>
#include <optional>
#include <utility>

#include "absl/time/clock.h"
#include "services/common/status_convert.h"
#include "services/tokenizer/batch_ops.h"
#include "services/tokenizer/detokenize_reactor.h"

namespace corvid::tokenizer_service {
namespace {

// A unary call's reactor. It owns the call's admission ticket until gRPC is done with the call,
// so a drain waits for the reply to be sent, not just computed.
class UnaryCall final : public grpc::ServerUnaryReactor {
 public:
  UnaryCall(Method method, ServiceMetrics* metrics,
            std::optional<service::AdmissionGate::Ticket> ticket)
      : method_(method), metrics_(metrics), ticket_(std::move(ticket)), start_(absl::Now()) {
    metrics_->in_flight().Increment();
  }

  void Reply(const grpc::Status& status) {
    metrics_->RecordCall(method_, status.error_code(), absl::ToDoubleSeconds(absl::Now() - start_));
    Finish(status);
  }

  void OnDone() override {
    metrics_->in_flight().Decrement();
    delete this;
  }

 private:
  const Method method_;
  ServiceMetrics* metrics_;
  std::optional<service::AdmissionGate::Ticket> ticket_;
  const absl::Time start_;
};

grpc::Status Unavailable(const char* why) {
  return grpc::Status(grpc::StatusCode::UNAVAILABLE, why);
}

}  // namespace

TokenizerService::TokenizerService(const ServiceOptions& options, service::AdmissionGate* gate,
                                   ServiceMetrics* metrics)
    : options_(options),
      gate_(gate),
      metrics_(metrics),
      pool_(std::make_unique<service::WorkerPool>(options.worker_threads,
                                                  options.max_queued_calls)) {}

TokenizerService::~TokenizerService() = default;

void TokenizerService::SetRegistry(std::unique_ptr<ModelRegistry> registry) {
  owned_registry_ = std::move(registry);
  metrics_->models_loaded().Set(static_cast<double>(owned_registry_->names().size()));
  registry_.store(owned_registry_.get());
}

grpc::ServerUnaryReactor* TokenizerService::RunUnary(grpc::CallbackServerContext* context,
                                                     Method method, const std::string& model_name,
                                                     bool inline_work, Work work) {
  auto ticket = gate_->TryEnter();
  bool admitted = ticket.has_value();
  auto* call = new UnaryCall(method, metrics_, std::move(ticket));
  const ModelRegistry* registry = registry_.load();
  if (!admitted) {
    call->Reply(Unavailable("server is draining"));
    return call;
  }
  if (registry == nullptr) {
    call->Reply(Unavailable("server is loading its tokenizers"));
    return call;
  }
  auto model = registry->Find(model_name);
  if (!model.ok()) {
    call->Reply(service::ToGrpcStatus(model.status()));
    return call;
  }
  const LoadedModel* m = *model;
  if (inline_work) {
    call->Reply(service::ToGrpcStatus(work(*m)));
    return call;
  }
  auto task = [call, context, m, work = std::move(work), this] {
    metrics_->queued().Decrement();
    // Work nobody waits for any more is skipped: the client is gone or out of time.
    if (context->IsCancelled()) {
      call->Reply(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled before it ran"));
    } else if (context->deadline() < std::chrono::system_clock::now()) {
      call->Reply(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "deadline passed in queue"));
    } else {
      call->Reply(service::ToGrpcStatus(work(*m)));
    }
  };
  metrics_->queued().Increment();
  if (!pool_->TrySubmit(std::move(task))) {
    metrics_->queued().Decrement();
    call->Reply(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                             "tokenizer work queue is full; retry with backoff"));
  }
  return call;
}

grpc::ServerUnaryReactor* TokenizerService::Encode(grpc::CallbackServerContext* context,
                                                   const v1::EncodeRequest* request,
                                                   v1::EncodeResponse* response) {
  return RunUnary(context, Method::kEncode, request->model(), false,
                  [this, request, response](const LoadedModel& model) {
                    absl::Status s = RunEncode(model, options_.limits, *request, response);
                    if (s.ok()) metrics_->AddEncodedTokens(response->total_tokens());
                    return s;
                  });
}

grpc::ServerUnaryReactor* TokenizerService::Decode(grpc::CallbackServerContext* context,
                                                   const v1::DecodeRequest* request,
                                                   v1::DecodeResponse* response) {
  return RunUnary(context, Method::kDecode, request->model(), false,
                  [this, request, response](const LoadedModel& model) {
                    absl::Status s = RunDecode(model, options_.limits, *request, response);
                    if (s.ok()) {
                      int64_t n = 0;
                      for (const auto& seq : request->sequences()) n += seq.ids_size();
                      metrics_->AddDecodedTokens(n);
                    }
                    return s;
                  });
}

grpc::ServerUnaryReactor* TokenizerService::CountTokens(grpc::CallbackServerContext* context,
                                                        const v1::CountTokensRequest* request,
                                                        v1::CountTokensResponse* response) {
  return RunUnary(context, Method::kCountTokens, request->model(), false,
                  [this, request, response](const LoadedModel& model) {
                    absl::Status s = RunCountTokens(model, options_.limits, *request, response);
                    if (s.ok()) metrics_->AddEncodedTokens(response->total_tokens());
                    return s;
                  });
}

grpc::ServerUnaryReactor* TokenizerService::GetInfo(grpc::CallbackServerContext* context,
                                                    const v1::GetInfoRequest* request,
                                                    v1::GetInfoResponse* response) {
  return RunUnary(context, Method::kGetInfo, request->model(), true,
                  [this, response](const LoadedModel& model) {
                    FillInfo(model, registry_.load()->names(), options_.limits, response);
                    return absl::OkStatus();
                  });
}

grpc::ServerBidiReactor<v1::DetokenizeRequest, v1::DetokenizeResponse>*
TokenizerService::DetokenizeStream(grpc::CallbackServerContext* context) {
  return new DetokenizeReactor(registry_.load(), options_.limits, gate_, metrics_);
}

}  // namespace corvid::tokenizer_service
