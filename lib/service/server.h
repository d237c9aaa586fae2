// What every replex server has: grpc.health.v1 health checking, server
// reflection (so `grpcurl list` works), explicit message size limits, a port
// chosen by the OS when asked for port 0, TLS when given credentials
// (tls.h), and graceful shutdown on SIGTERM.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/impl/codegen/service_type.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/support/server_callback.h"

namespace prometheus {
class Registry;
}

namespace replex::service {

struct ServerOptions {
  std::string address = "127.0.0.1:0";  // host:port; port 0 picks a free one
  // Largest message accepted or sent. Job specs carry a System XML inline,
  // so the default leaves room for large solvated systems.
  int max_message_bytes = 64 << 20;
  // When set, every call is counted there under the names of Grafana's
  // common gRPC dashboards: grpc_server_started_total,
  // grpc_server_handled_total and grpc_server_handling_seconds (labels
  // grpc_service, grpc_method, grpc_type, and grpc_code once handled).
  // Not owned; must outlive the server.
  prometheus::Registry* metrics = nullptr;
  // TLS (MakeServerCredentials) for every service on the port, health and
  // reflection included. Null: plaintext.
  std::shared_ptr<grpc::ServerCredentials> credentials;
  // The most threads gRPC may run calls on: beyond it new calls are refused
  // (RESOURCE_EXHAUSTED) rather than the process running out of threads.
  // Every synchronous stream (a worker's session, a watch) holds one.
  int max_threads = 4096;
};

struct RunningServer {
  std::unique_ptr<grpc::Server> server;
  int port = 0;  // the bound port
};

// Builds and starts a server for `services` (not owned; must outlive it).
// FAILED_PRECONDITION naming the address when it cannot bind.
absl::StatusOr<RunningServer> StartServer(
    const ServerOptions& options, const std::vector<grpc::Service*>& services);

// Writes `port` to `path` for whoever started this server on port 0 (tests,
// tools/local-cluster.sh): written whole and renamed into place, so a reader
// never sees a part. FAILED_PRECONDITION naming the path on failure.
absl::Status WritePortFile(const std::string& path, int port);

// Installs SIGTERM/SIGINT handlers that record the request; call first thing
// in main(). Idempotent.
void InstallTerminationHandlers();

// Blocks until SIGTERM or SIGINT arrives (installing the handlers if needed).
void WaitForTerminationSignal();

// True once SIGTERM or SIGINT has arrived.
bool TerminationRequested();

}  // namespace replex::service
