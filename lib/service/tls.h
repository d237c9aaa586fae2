// TLS for replex's gRPC servers and clients: credentials built from PEM
// files, checked when a process starts (readable, PEM, the key belongs to the
// certificate, not expired), so a wrong path stops the process with a message
// naming the flag rather than failing every handshake later. The fields
// mirror the flags of tls_flags.h one to one, and errors name those flags.
// Without files, servers and clients speak plaintext.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/support/channel_arguments.h"

namespace replex::service {

struct ServerTlsFiles {
  std::string cert;  // --tls_cert: certificate chain, the server's first
  std::string key;   // --tls_key: its private key (unencrypted)
  // --tls_client_ca: when set, clients must present a certificate signed by
  // one of these CAs (mutual TLS).
  std::string client_ca;
};

// TLS credentials when cert and key are set; null (plaintext, see
// ServerOptions) when neither nor a client CA is. INVALID_ARGUMENT naming
// the flag and the fix otherwise.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ServerTlsFiles& files);

struct ClientTlsFiles {
  // --tls_ca: the CA certificates the server's certificate must be signed
  // by. Set: TLS; empty: plaintext.
  std::string ca;
  std::string cert;  // --tls_client_cert: for servers that require one
  std::string key;   // --tls_client_key: its private key
  // --tls_server_name: the name the server's certificate must carry, when
  // it is not the host of the address dialled (e.g. an IP address).
  std::string server_name;
};

// How a client reaches its server. Copyable; plaintext when default.
struct ChannelSecurity {
  std::shared_ptr<grpc::ChannelCredentials> credentials;  // null: plaintext
  std::string server_name;  // empty: the host of the address dialled
  bool tls() const { return credentials != nullptr; }
  // What to check when the server cannot be reached, appended to that
  // error ("; ..."): a TLS server refuses plaintext and the other way round
  // with only "connection closed".
  std::string UnreachableHint() const;
};

// INVALID_ARGUMENT naming the flag and the fix when a file is missing, not
// PEM, a key does not match its certificate, or flags come without --tls_ca.
absl::StatusOr<ChannelSecurity> MakeChannelSecurity(
    const ClientTlsFiles& files);

// A channel to `target` ("host:port") secured as `security` says, with
// `arguments` (message limits, backoff).
std::shared_ptr<grpc::Channel> CreateChannel(
    const std::string& target, const ChannelSecurity& security,
    grpc::ChannelArguments arguments = {});

}  // namespace replex::service
