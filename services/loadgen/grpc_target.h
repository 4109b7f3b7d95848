// Target: corvid.v1.Generation/Generate on a corvid-scheduler, through gRPC's callback API (no
// thread per request; gRPC's own threads run the reactors). Requests are spread round-robin
// over a few channels, each its own HTTP/2 connection.
#ifndef CORVID_SERVICES_LOADGEN_GRPC_TARGET_H_
#define CORVID_SERVICES_LOADGEN_GRPC_TARGET_H_

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "corvid/v1/generation.grpc.pb.h"
#include "services/loadgen/target.h"

namespace corvid::loadgen {

struct GrpcTargetOptions {
  std::string address;  // HOST:PORT of corvid-scheduler
  int channels = 1;
  double connect_timeout_s = 30;  // waits this long for the server to list the model
  RequestOptions request;
};

class GrpcTarget : public Target {
 public:
  // Connects and reads the model's vocabulary and context length from ListModels (NOT_FOUND
  // when the model is not served, UNAVAILABLE when the server does not answer in time).
  static absl::StatusOr<std::unique_ptr<GrpcTarget>> Connect(const GrpcTargetOptions& options);

  TargetInfo Info() const override { return info_; }
  void Start(const RequestSpec& spec, RequestRecord* record, std::function<void()> done) override;

 private:
  GrpcTarget(const GrpcTargetOptions& options,
             std::vector<std::unique_ptr<v1::Generation::Stub>> stubs);

  GrpcTargetOptions options_;
  std::vector<std::unique_ptr<v1::Generation::Stub>> stubs_;
  std::atomic<uint64_t> next_{0};
  TargetInfo info_;
};

}  // namespace corvid::loadgen

#endif  // CORVID_SERVICES_LOADGEN_GRPC_TARGET_H_
