// corvid.v1.Generation: the public front door. Generate validates every field (naming the bad
// one), refuses at once what cannot be served (draining, no worker, full queue), tokenizes text
// through the tokenizer tier (asynchronously, off the core thread) and hands the request to the
// SchedulerCore, which streams the result through the call's reactor.
#ifndef CORVID_SERVICES_SCHEDULER_GENERATION_SERVICE_H_
#define CORVID_SERVICES_SCHEDULER_GENERATION_SERVICE_H_

#include <atomic>
#include <cstdint>

#include "corvid/v1/generation.grpc.pb.h"
#include "services/common/admission.h"
#include "services/scheduler/scheduler_core.h"
#include "services/scheduler/scheduler_metrics.h"
#include "services/scheduler/tokenizer_pool.h"

namespace corvid::scheduler {

class GenerationService final : public v1::Generation::CallbackService {
 public:
  // None owned; all must outlive the server.
  GenerationService(SchedulerCore* core, TokenizerPool* tokenizers,
                    service::AdmissionGate* gate, SchedulerMetrics* metrics)
      : core_(core), tokenizers_(tokenizers), gate_(gate), metrics_(metrics) {}

  grpc::ServerWriteReactor<v1::GenerateResponse>* Generate(
      grpc::CallbackServerContext* context, const v1::GenerateRequest* request) override;
  grpc::ServerUnaryReactor* ListModels(grpc::CallbackServerContext* context,
                                       const v1::ListModelsRequest* request,
                                       v1::ListModelsResponse* response) override;

 private:
  // Refuses before any work: finishes the call and counts it (and its latency from `arrival`).
  void Refuse(CallHandle& call, absl::Time arrival, const absl::Status& status,
              const std::string& reason, absl::Duration retry_after = absl::ZeroDuration());
  // Decides the tokenized request's admission here (AdmitAtEdge, with the core's last published
  // view): refuses it on this thread, or submits it to the core with its queue place reserved.
  void AdmitOrRefuse(NewRequest request, const SchedulerSnapshot& snap);

  SchedulerCore* core_;
  TokenizerPool* tokenizers_;
  service::AdmissionGate* gate_;
  SchedulerMetrics* metrics_;
  std::atomic<uint64_t> next_id_{1};
};

}  // namespace corvid::scheduler

#endif  // CORVID_SERVICES_SCHEDULER_GENERATION_SERVICE_H_
