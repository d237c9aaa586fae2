// `replex-gateway`: the public replex.v1.JobService. Validates requests and
// forwards them to the coordinator; holds no state, so several can run behind
// one address.
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gateway/gateway_server.h"
#include "lib/client/grpc_jobs_client.h"
#include "lib/metrics/metrics_flags.h"
#include "lib/service/auth.h"
#include "lib/service/process.h"
#include "lib/service/process_flags.h"
#include "lib/service/server.h"

ABSL_FLAG(std::string, coordinator, "localhost:7070",
          "The coordinator's internal JobService address, host:port.");
ABSL_FLAG(std::string, tokens_file, "",
          "Users' credentials, one per line: TOKEN USER [admin] "
          "(docs/security.md). Set: every call needs \"authorization: Bearer "
          "TOKEN\"; users act on their own jobs, admins on all. Empty: "
          "authentication off (anyone who reaches this port acts on every "
          "job).");
ABSL_FLAG(std::string, jwt_key_file, "",
          "Verify users' JSON Web Tokens with this key: a PEM public key for "
          "RS*/ES* algorithms, the shared secret for HS* "
          "(docs/security.md). A bearer token in JWT form names the user in "
          "its sub claim (an admin with \"replex_admin\": true) and must "
          "carry an exp. Combines with --tokens_file.");
ABSL_FLAG(std::string, jwt_algorithm, "ES256",
          "The one algorithm JWTs must be signed with: HS256, HS384, HS512, "
          "RS256, RS384, RS512, ES256, ES384 or ES512.");
ABSL_FLAG(std::string, jwt_issuer, "",
          "When set, a JWT's iss claim must be this.");
ABSL_FLAG(std::string, jwt_audience, "",
          "When set, a JWT's aud claim must be this (a single string).");
// Defined with the other server TLS flags (lib/service).
ABSL_DECLARE_FLAG(std::string, tls_client_ca);

ABSL_FLAG(bool, certificate_users, false,
          "With --tls_client_ca (mutual TLS): a caller that sends no token "
          "is the user its client certificate's Common Name names "
          "(docs/security.md).");
ABSL_FLAG(std::vector<std::string>, certificate_admins, {},
          "Comma-separated certificate users (Common Names) who are admins.");
ABSL_FLAG(std::string, coordinator_token_file, "",
          "File holding this gateway's token to the coordinator (its "
          "--gateway_token_file). Needed when the coordinator requires it.");

namespace replex::gateway {
namespace {

constexpr char kUsage[] =
    "The replex public API (replex.v1.JobService): validates requests and "
    "forwards them to the coordinator.\n\n"
    "Usage: replex-gateway [--listen=0.0.0.0:8080] [--coordinator=HOST:PORT] "
    "[--port_file=PATH] [--max_message_bytes=N]\n"
    "       [--tokens_file=PATH] [--coordinator_token_file=PATH]\n"
    "       [--shutdown_grace=10s]\n"
    "       [--metrics_listen=0.0.0.0:9465] [--metrics_port_file=PATH]\n"
    "       [--tls_cert=PEM --tls_key=PEM [--tls_client_ca=PEM]]  (its "
    "clients)\n"
    "       [--tls_ca=PEM [--tls_client_cert=PEM --tls_client_key=PEM]]  "
    "(to the coordinator)\n\n"
    "--max_message_bytes is the largest SubmitJob forwarded; larger jobs are "
    "refused with RESOURCE_EXHAUSTED, naming the flag. On SIGTERM watches "
    "end at once with UNAVAILABLE, so clients watch again elsewhere.";

absl::Status Serve() {
  absl::StatusOr<int> max_message_bytes = service::MaxMessageBytesFromFlags();
  if (!max_message_bytes.ok()) return max_message_bytes.status();
  absl::StatusOr<service::ListenFlags> listen = service::ListenFromFlags();
  if (!listen.ok()) return listen.status();
  absl::StatusOr<absl::Duration> grace = service::ShutdownGraceFromFlags();
  if (!grace.ok()) return grace.status();
  client::GrpcJobsClientOptions client_options;
  client_options.address = absl::GetFlag(FLAGS_coordinator);
  client_options.max_send_bytes = *max_message_bytes;
  client_options.max_receive_bytes = *max_message_bytes;
  absl::StatusOr<service::ChannelSecurity> security =
      service::ChannelSecurityFromFlags();
  if (!security.ok()) return security.status();
  client_options.security = *std::move(security);
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      service::ServerCredentialsFromFlags();
  if (!credentials.ok()) return credentials.status();
  absl::StatusOr<std::string> coordinator_token = service::ReadTokenFile(
      absl::GetFlag(FLAGS_coordinator_token_file), "--coordinator_token_file");
  if (!coordinator_token.ok()) return coordinator_token.status();
  client_options.token = *std::move(coordinator_token);
  absl::StatusOr<std::optional<service::Tokens>> tokens =
      service::Tokens::Read(absl::GetFlag(FLAGS_tokens_file), "--tokens_file",
                            service::Tokens::Kind::kUsers);
  if (!tokens.ok()) return tokens.status();
  client::GrpcJobsClient jobs(client_options);

  absl::StatusOr<std::unique_ptr<metrics::MetricsServer>> metrics_server =
      metrics::StartFromFlags();
  if (!metrics_server.ok()) return metrics_server.status();

  GatewayServerOptions options;
  options.address = listen->address;
  options.metrics = &(*metrics_server)->registry();
  options.gateway.max_message_bytes = *max_message_bytes;
  options.credentials = *std::move(credentials);
  if (tokens->has_value()) options.service.tokens = &**tokens;
  std::optional<service::JwtVerifier> jwt;
  if (const std::string key_file = absl::GetFlag(FLAGS_jwt_key_file);
      !key_file.empty()) {
    absl::StatusOr<service::JwtVerifier> verifier =
        service::JwtVerifier::Create(
            key_file, absl::GetFlag(FLAGS_jwt_algorithm),
            absl::GetFlag(FLAGS_jwt_issuer), absl::GetFlag(FLAGS_jwt_audience));
    if (!verifier.ok()) return verifier.status();
    jwt = *std::move(verifier);
    options.service.jwt = &*jwt;
  }
  options.service.certificate_users = absl::GetFlag(FLAGS_certificate_users);
  if (options.service.certificate_users &&
      absl::GetFlag(FLAGS_tls_client_ca).empty()) {
    return absl::InvalidArgumentError(
        "--certificate_users needs --tls_client_ca: only verified client "
        "certificates name users");
  }
  for (const std::string& admin : absl::GetFlag(FLAGS_certificate_admins)) {
    options.service.certificate_admins.insert(admin);
  }
  absl::StatusOr<std::unique_ptr<GatewayServer>> server =
      GatewayServer::Start(&jobs, options);
  if (!server.ok()) return server.status();
  service::Log(
      "serving replex.v1.JobService on port %d (%s), forwarding to the "
      "coordinator at %s (%s)",
      (*server)->port(), options.credentials != nullptr ? "TLS" : "plaintext",
      client_options.address,
      client_options.security.tls() ? "TLS" : "plaintext");
  if (tokens->has_value() || jwt.has_value() ||
      options.service.certificate_users) {
    std::vector<std::string> ways;
    if (tokens->has_value()) {
      ways.push_back(absl::StrCat((*tokens)->size(), " tokens from ",
                                  absl::GetFlag(FLAGS_tokens_file)));
    }
    if (jwt.has_value()) {
      ways.push_back(absl::StrCat(absl::GetFlag(FLAGS_jwt_algorithm),
                                  " JWTs verified with ",
                                  absl::GetFlag(FLAGS_jwt_key_file)));
    }
    if (options.service.certificate_users) {
      ways.push_back("client certificates");
    }
    service::Log("authentication on: %s", absl::StrJoin(ways, "; "));
  } else {
    service::Log(
        "authentication off: anyone who reaches port %d acts on every job "
        "(give --tokens_file to require tokens)",
        (*server)->port());
  }

  return service::ServeUntilTerminated(
      listen->port_file, (*server)->port(), *grace,
      [&](absl::Time deadline) { (*server)->Shutdown(deadline); });
}

}  // namespace
}  // namespace replex::gateway

int main(int argc, char** argv) {
  replex::service::SetListenDefault("0.0.0.0:8080");
  replex::metrics::SetListenDefault("0.0.0.0:9465");
  return replex::service::RunProcess(
      argc, argv, {"replex-gateway", replex::gateway::kUsage},
      [](const std::vector<std::string>&) { return replex::gateway::Serve(); });
}
