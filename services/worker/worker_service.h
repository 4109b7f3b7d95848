// corvid.v1.Worker over a WorkerCore: Info, and the Session stream reactor. The core is
// attached once the model has loaded; until then Info answers UNAVAILABLE and Session refuses.
#ifndef CORVID_SERVICES_WORKER_WORKER_SERVICE_H_
#define CORVID_SERVICES_WORKER_WORKER_SERVICE_H_

#include <atomic>

#include "corvid/v1/worker.grpc.pb.h"
#include "services/common/admission.h"
#include "services/worker/worker_core.h"

namespace corvid::worker {

class WorkerService final : public v1::Worker::CallbackService {
 public:
  // `gate` (not owned) counts open sessions for the drain; it may be null in tests.
  explicit WorkerService(service::AdmissionGate* gate) : gate_(gate) {}

  // Makes the service usable; `core` must outlive the server.
  void Attach(WorkerCore* core) { core_.store(core); }

  grpc::ServerUnaryReactor* Info(grpc::CallbackServerContext* context,
                                 const v1::WorkerInfoRequest* request,
                                 v1::WorkerInfo* response) override;
  grpc::ServerBidiReactor<v1::SessionRequest, v1::SessionResponse>* Session(
      grpc::CallbackServerContext* context) override;

 private:
  service::AdmissionGate* gate_;
  std::atomic<WorkerCore*> core_{nullptr};
};

}  // namespace corvid::worker

#endif  // CORVID_SERVICES_WORKER_WORKER_SERVICE_H_
