#include "lib/service/grpc_status.h"

#include <string>

#include "lib/text/utf8.h"

namespace replex::service {

// Both enums carry the canonical gRPC codes with the same numbers.
grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      text::ValidUtf8(status.message()));
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

}  // namespace replex::service
