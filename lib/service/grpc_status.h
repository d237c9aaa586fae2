// The one conversion point between absl::Status (used everywhere inside) and
// grpc::Status (only at the edge of a service).
#pragma once

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace replex::service {

// The message is made valid UTF-8 (text::ValidUtf8): errors quote inputs,
// which may hold anything.
grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace replex::service
