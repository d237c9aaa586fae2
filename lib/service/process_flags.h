// The flags every server shares, each defined once. Each flag (or pair) is
// its own object file of the static replex::service_flags library, so a
// binary's --help lists only the flags of the functions it calls. A binary
// sets its own defaults (its port, its grace period) before RunProcess
// parses the command line.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/security/server_credentials.h"
#include "lib/service/tls.h"

namespace replex::service {

// --listen and --port_file.
struct ListenFlags {
  std::string address;    // host:port; port 0 picks a free one
  std::string port_file;  // where to write the bound port; empty: nowhere
};
void SetListenDefault(absl::string_view address);
// INVALID_ARGUMENT naming the flag when --listen is empty.
absl::StatusOr<ListenFlags> ListenFromFlags();

// --shutdown_grace: on SIGTERM, how long work in flight may take.
void SetShutdownGraceDefault(absl::Duration grace);
// INVALID_ARGUMENT naming the flag when negative.
absl::StatusOr<absl::Duration> ShutdownGraceFromFlags();

// --max_message_bytes: the largest gRPC message sent or received; a job
// carries its System XML inline. Between kMinMessageBytes and
// kMaxMessageBytes, else INVALID_ARGUMENT naming the flag and the range.
inline constexpr int64_t kMinMessageBytes = 1024;
inline constexpr int64_t kMaxMessageBytes = (int64_t{1} << 31) - 1;
absl::StatusOr<int> MaxMessageBytesFromFlags();

// --tls_cert, --tls_key, --tls_client_ca, read and checked (see
// MakeServerCredentials).
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>>
ServerCredentialsFromFlags();

// --tls_ca, --tls_client_cert, --tls_client_key, --tls_server_name, read and
// checked (see MakeChannelSecurity).
absl::StatusOr<ChannelSecurity> ChannelSecurityFromFlags();

}  // namespace replex::service
