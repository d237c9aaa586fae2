// Asks a running server what Kubernetes probes would: its grpc.health.v1
// status (`replexctl health`, and the tests). Debian's libgrpc++-dev ships no
// client stubs for the health service, so this goes through
// grpc::GenericStub with the two fields encoded by hand. The services server
// reflection lists come from ReflectionDescriptorDatabase::ListServices
// (reflection_client.h).
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/channel.h"

namespace replex::grpc_tools {

// grpc.health.v1.Health/Check for `service` ("" is the whole server): the
// status's enum name, e.g. "SERVING".
absl::StatusOr<std::string> CheckHealth(
    const std::shared_ptr<grpc::Channel>& channel,
    const std::string& service = "");

}  // namespace replex::grpc_tools
