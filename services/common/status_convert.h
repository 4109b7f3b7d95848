// absl::Status <-> grpc::Status. Both use the google.rpc.Code numbering, so codes map one to one;
// messages pass through unchanged.
#ifndef CORVID_SERVICES_COMMON_STATUS_CONVERT_H_
#define CORVID_SERVICES_COMMON_STATUS_CONVERT_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace corvid::service {

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace corvid::service

#endif  // CORVID_SERVICES_COMMON_STATUS_CONVERT_H_
