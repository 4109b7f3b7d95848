// Client side of grpc.health.v1, for tests, tools and services probing their peers.
#ifndef CORVID_SERVICES_COMMON_HEALTH_CLIENT_H_
#define CORVID_SERVICES_COMMON_HEALTH_CLIENT_H_

#include <grpcpp/channel.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace corvid::service {

enum class HealthState { kUnknown, kServing, kNotServing, kServiceUnknown };

const char* HealthStateName(HealthState state);

// One Health.Check call for `service` ("" = the whole server). A server that does not know the
// service answers NOT_FOUND; an unreachable one UNAVAILABLE or DEADLINE_EXCEEDED.
absl::StatusOr<HealthState> CheckHealth(const std::shared_ptr<grpc::Channel>& channel,
                                        const std::string& service,
                                        absl::Duration timeout = absl::Seconds(2));

}  // namespace corvid::service

#endif  // CORVID_SERVICES_COMMON_HEALTH_CLIENT_H_
