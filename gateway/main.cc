// `replex-gateway`: the public replex.v1.JobService. Validates requests and
// forwards them to the coordinator; holds no state, so several can run behind
// one address.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gateway/gateway_server.h"
#include "lib/client/grpc_jobs_client.h"
#include "lib/metrics/metrics.h"
#include "lib/service/server.h"
#include "lib/service/tls_flags.h"

ABSL_FLAG(std::string, listen, "0.0.0.0:8080",
          "Address the public JobService listens on, host:port; port 0 lets "
          "the OS pick one (see --port_file).");
ABSL_FLAG(std::string, coordinator, "localhost:7070",
          "The coordinator's internal JobService address, host:port.");
ABSL_FLAG(std::string, port_file, "",
          "After binding, write the bound port to this file (written whole, "
          "by rename), so scripts and tests can use --listen=HOST:0.");
ABSL_FLAG(int64_t, max_message_bytes, int64_t{64} << 20,
          "Largest SubmitJob request forwarded, in bytes; a job carries its "
          "System XML inline. Larger jobs are refused with "
          "RESOURCE_EXHAUSTED. The coordinator's limit must be at least "
          "this.");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(10),
          "On SIGTERM, how long in-flight calls get to finish before they "
          "are cancelled. Watches end at once with UNAVAILABLE so clients "
          "reconnect.");
ABSL_FLAG(std::string, metrics_listen, "0.0.0.0:9465",
          "host:port to serve Prometheus metrics on (/metrics); port 0 "
          "picks a free port (see --metrics_port_file); empty disables.");
ABSL_FLAG(std::string, metrics_port_file, "",
          "After binding the metrics port, write it (a decimal number and a "
          "newline) to this file; for tests using port 0.");

namespace replex::gateway {
namespace {

constexpr char kUsage[] =
    "The replex public API (replex.v1.JobService): validates requests and "
    "forwards them to the coordinator.\n\n"
    "Usage: replex-gateway [--listen=HOST:PORT] [--coordinator=HOST:PORT] "
    "[--port_file=PATH] [--max_message_bytes=N]\n"
    "       [--metrics_listen=0.0.0.0:9465] [--metrics_port_file=PATH]\n"
    "       [--tls_cert=PEM --tls_key=PEM [--tls_client_ca=PEM]]  (its "
    "clients)\n"
    "       [--tls_ca=PEM [--tls_client_cert=PEM --tls_client_key=PEM]]  "
    "(to the coordinator)";

absl::Status Serve() {
  const int64_t max_message_bytes = absl::GetFlag(FLAGS_max_message_bytes);
  if (max_message_bytes < 1024 || max_message_bytes > (int64_t{1} << 31) - 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--max_message_bytes is ", max_message_bytes,
        "; give a byte count between 1024 and 2147483647 (2 GiB - 1)"));
  }
  client::GrpcJobsClientOptions client_options;
  client_options.address = absl::GetFlag(FLAGS_coordinator);
  client_options.max_send_bytes = static_cast<int>(max_message_bytes);
  client_options.max_receive_bytes = static_cast<int>(max_message_bytes);
  absl::StatusOr<service::ChannelSecurity> security =
      service::ChannelSecurityFromFlags();
  if (!security.ok()) return security.status();
  client_options.security = *std::move(security);
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      service::ServerCredentialsFromFlags();
  if (!credentials.ok()) return credentials.status();
  client::GrpcJobsClient jobs(client_options);

  absl::StatusOr<std::unique_ptr<metrics::MetricsServer>> metrics_server =
      metrics::MetricsServer::Start(absl::GetFlag(FLAGS_metrics_listen),
                                    absl::GetFlag(FLAGS_metrics_port_file));
  if (!metrics_server.ok()) return metrics_server.status();

  GatewayServerOptions options;
  options.address = absl::GetFlag(FLAGS_listen);
  options.metrics = &(*metrics_server)->registry();
  options.gateway.max_message_bytes = max_message_bytes;
  options.credentials = *std::move(credentials);
  absl::StatusOr<std::unique_ptr<GatewayServer>> server =
      GatewayServer::Start(&jobs, options);
  if (!server.ok()) return server.status();
  if (const std::string path = absl::GetFlag(FLAGS_port_file); !path.empty()) {
    if (absl::Status status = service::WritePortFile(path, (*server)->port());
        !status.ok()) {
      return status;
    }
  }
  std::fprintf(stderr,
               "replex-gateway: serving replex.v1.JobService on port %d (%s), "
               "forwarding to the coordinator at %s (%s)\n",
               (*server)->port(),
               options.credentials != nullptr ? "TLS" : "plaintext",
               client_options.address.c_str(),
               client_options.security.tls() ? "TLS" : "plaintext");

  service::WaitForTerminationSignal();
  std::fprintf(stderr, "replex-gateway: shutting down\n");
  (*server)->Shutdown(absl::Now() + absl::GetFlag(FLAGS_shutdown_grace));
  return absl::OkStatus();
}

}  // namespace
}  // namespace replex::gateway

int main(int argc, char** argv) {
  replex::service::InstallTerminationHandlers();
  absl::SetProgramUsageMessage(replex::gateway::kUsage);
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() > 1) {
    std::fprintf(stderr,
                 "replex-gateway: error: unexpected argument \"%s\"; it takes "
                 "only flags (see --help)\n",
                 args[1]);
    return 2;
  }
  const absl::Status status = replex::gateway::Serve();
  if (!status.ok()) {
    std::fprintf(stderr, "replex-gateway: error: %s\n",
                 std::string(status.message()).c_str());
    return status.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  return 0;
}
