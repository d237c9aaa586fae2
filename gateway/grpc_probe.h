// Test helpers that ask a running server what grpcurl and Kubernetes probes
// would: its grpc.health.v1 status and the services server reflection lists.
// Debian's libgrpc++-dev ships no client stubs for either service, so these
// go through grpc::GenericStub; the reflection messages come from the
// descriptors that libgrpc++_reflection registers, the health messages are
// two fields encoded by hand.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "grpcpp/channel.h"

namespace replex::gateway::testing {

// grpc.health.v1.Health/Check for `service` ("" is the whole server): the
// status's enum name, e.g. "SERVING".
absl::StatusOr<std::string> CheckHealth(
    const std::shared_ptr<grpc::Channel>& channel,
    const std::string& service = "");

// The service names server reflection lists (what `grpcurl list` prints).
absl::StatusOr<std::vector<std::string>> ListServices(
    const std::shared_ptr<grpc::Channel>& channel);

}  // namespace replex::gateway::testing
