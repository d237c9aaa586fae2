// The client TLS flags (process_flags.h).
#include <string>

#include "absl/flags/flag.h"
#include "lib/service/process_flags.h"

ABSL_FLAG(std::string, tls_ca, "",
          "PEM CA certificate(s) that signed the server's certificate; when "
          "set, connect with TLS and verify the server against them. Empty: "
          "plaintext.");
ABSL_FLAG(std::string, tls_client_cert, "",
          "PEM certificate to present to a server that requires one (its "
          "--tls_client_ca); needs --tls_client_key and --tls_ca.");
ABSL_FLAG(std::string, tls_client_key, "",
          "PEM private key of --tls_client_cert, unencrypted.");
ABSL_FLAG(std::string, tls_server_name, "",
          "Name the server's certificate must carry, when it is not the "
          "host dialled (e.g. dialling an IP address or a port-forward); "
          "needs --tls_ca.");

namespace replex::service {

absl::StatusOr<ChannelSecurity> ChannelSecurityFromFlags() {
  ClientTlsFiles files;
  files.ca = absl::GetFlag(FLAGS_tls_ca);
  files.cert = absl::GetFlag(FLAGS_tls_client_cert);
  files.key = absl::GetFlag(FLAGS_tls_client_key);
  files.server_name = absl::GetFlag(FLAGS_tls_server_name);
  return MakeChannelSecurity(files);
}

}  // namespace replex::service
