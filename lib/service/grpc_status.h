// The one conversion point between absl::Status (used everywhere inside) and
// grpc::Status (only at the edge of a service).
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "grpcpp/support/status.h"

namespace replex::service {

// The message is made valid UTF-8 (each byte of an invalid sequence becomes
// '?'): errors quote inputs, which may be anything, and clients that decode
// messages as UTF-8 (grpcurl, Python) would fail on them.
grpc::Status ToGrpcStatus(const absl::Status& status);
std::string ValidUtf8(absl::string_view text);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace replex::service
