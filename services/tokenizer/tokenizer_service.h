// corvid.v1.Tokenizer on gRPC's callback API. Unary calls that tokenize (Encode, Decode,
// CountTokens) run on a fixed worker pool so reactor threads never do unbounded work; GetInfo is
// answered inline (a few hundred entries at most); DetokenizeStream is a bidi reactor
// (detokenize_reactor.h) whose per-message work is bounded by max_ids_per_batch.
#ifndef CORVID_SERVICES_TOKENIZER_TOKENIZER_SERVICE_H_
#define CORVID_SERVICES_TOKENIZER_TOKENIZER_SERVICE_H_

#include <atomic>
#include <functional>
#include <memory>

#include "absl/status/status.h"
#include "corvid/v1/tokenizer.grpc.pb.h"
#include "services/common/admission.h"
#include "services/common/worker_pool.h"
#include "services/tokenizer/limits.h"
#include "services/tokenizer/model_registry.h"
#include "services/tokenizer/service_metrics.h"

namespace corvid::tokenizer_service {

struct ServiceOptions {
  Limits limits;
  int worker_threads = 4;
  // Calls that may wait for a worker beyond those running; more => RESOURCE_EXHAUSTED.
  int max_queued_calls = 1024;
};

class TokenizerService final : public v1::Tokenizer::CallbackService {
 public:
  // `gate` and `metrics` are not owned and must outlive the service.
  TokenizerService(const ServiceOptions& options, service::AdmissionGate* gate,
                   ServiceMetrics* metrics);
  ~TokenizerService() override;

  // Starts answering with `registry`; until then every call fails with UNAVAILABLE (loading).
  // Called once.
  void SetRegistry(std::unique_ptr<ModelRegistry> registry);
  bool ready() const { return registry_.load() != nullptr; }
  // The served models; null until SetRegistry.
  const ModelRegistry* registry() const { return registry_.load(); }

  grpc::ServerUnaryReactor* Encode(grpc::CallbackServerContext* context,
                                   const v1::EncodeRequest* request,
                                   v1::EncodeResponse* response) override;
  grpc::ServerUnaryReactor* Decode(grpc::CallbackServerContext* context,
                                   const v1::DecodeRequest* request,
                                   v1::DecodeResponse* response) override;
  grpc::ServerUnaryReactor* CountTokens(grpc::CallbackServerContext* context,
                                        const v1::CountTokensRequest* request,
                                        v1::CountTokensResponse* response) override;
  grpc::ServerUnaryReactor* GetInfo(grpc::CallbackServerContext* context,
                                    const v1::GetInfoRequest* request,
                                    v1::GetInfoResponse* response) override;
  grpc::ServerBidiReactor<v1::DetokenizeRequest, v1::DetokenizeResponse>* DetokenizeStream(
      grpc::CallbackServerContext* context) override;

 private:
  // Admits the call, then runs `work(model)` on the pool (or inline when `inline_work`) and
  // finishes the call with its status.
  using Work = std::function<absl::Status(const LoadedModel& model)>;
  grpc::ServerUnaryReactor* RunUnary(grpc::CallbackServerContext* context, Method method,
                                     const std::string& model_name, bool inline_work, Work work);

  const ServiceOptions options_;
  service::AdmissionGate* gate_;
  ServiceMetrics* metrics_;
  std::unique_ptr<ModelRegistry> owned_registry_;
  std::atomic<const ModelRegistry*> registry_{nullptr};
  // Last member: destroyed (and joined) first, while everything its tasks use still exists.
  std::unique_ptr<service::WorkerPool> pool_;
};

}  // namespace corvid::tokenizer_service

#endif  // CORVID_SERVICES_TOKENIZER_TOKENIZER_SERVICE_H_
