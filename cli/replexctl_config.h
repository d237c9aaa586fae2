// Where replexctl's connection settings come from when the command line
// does not give them: environment variables, then a context of the config
// file (docs/api.md, "Contexts"):
//
//   flag               variable                  context key
//   --gateway          REPLEX_GATEWAY            gateway
//   --tls_ca           REPLEX_TLS_CA             tls_ca
//   --tls_client_cert  REPLEX_TLS_CLIENT_CERT    tls_client_cert
//   --tls_client_key   REPLEX_TLS_CLIENT_KEY     tls_client_key
//   --tls_server_name  REPLEX_TLS_SERVER_NAME    tls_server_name
//   (the token)        REPLEX_TOKEN              token_file
//
// The config file is $REPLEX_CONFIG, else $XDG_CONFIG_HOME/replex/config.yaml
// (~/.config/replex/config.yaml); the context is --context, else
// $REPLEX_CONTEXT, else the file's `current`.
#pragma once

#include <set>
#include <string>

#include "absl/status/status.h"

namespace replex::cli {

// Sets each flag above that is not in `given` (the flags the command line
// gave) from its variable or the context, and returns the context's token
// file ("" for none).
// INVALID_ARGUMENT naming the file and the key for a malformed config file,
// an unknown context or key; a missing file is fine unless a context is
// asked for.
absl::Status ApplyConfig(const std::set<std::string>& given,
                         std::string& token_file);

}  // namespace replex::cli
