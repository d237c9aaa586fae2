// The server TLS flags (process_flags.h).
#include <string>

#include "absl/flags/flag.h"
#include "lib/service/process_flags.h"

ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate (chain, the server's first) to serve gRPC over "
          "TLS with; needs --tls_key. Empty (with --tls_key): plaintext. The "
          "Prometheus /metrics endpoint stays plain HTTP.");
ABSL_FLAG(std::string, tls_key, "",
          "PEM private key of --tls_cert, unencrypted.");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA certificate(s): when set, every client must present a "
          "certificate signed by one of them (mutual TLS). Needs --tls_cert "
          "and --tls_key.");

namespace replex::service {

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>>
ServerCredentialsFromFlags() {
  ServerTlsFiles files;
  files.cert = absl::GetFlag(FLAGS_tls_cert);
  files.key = absl::GetFlag(FLAGS_tls_key);
  files.client_ca = absl::GetFlag(FLAGS_tls_client_ca);
  return MakeServerCredentials(files);
}

}  // namespace replex::service
