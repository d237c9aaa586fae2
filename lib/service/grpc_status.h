// The one conversion point between absl::Status (used everywhere inside) and
// grpc::Status (only at the edge of a service).
#pragma once

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace replex::service {

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace replex::service
