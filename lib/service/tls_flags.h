// The TLS flags, defined once for every binary. A server's: --tls_cert,
// --tls_key, --tls_client_ca (server_tls_flags.cc); a client's: --tls_ca,
// --tls_client_cert, --tls_client_key, --tls_server_name
// (client_tls_flags.cc). Each set is its own object file in a static
// library, so a binary lists only the flags of the functions it calls.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "grpcpp/security/server_credentials.h"
#include "lib/service/tls.h"

namespace replex::service {

// The flags read and checked (see MakeServerCredentials).
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>>
ServerCredentialsFromFlags();

// The flags read and checked (see MakeChannelSecurity).
absl::StatusOr<ChannelSecurity> ChannelSecurityFromFlags();

}  // namespace replex::service
