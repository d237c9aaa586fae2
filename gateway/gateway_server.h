// replex-gateway's parts wired together as the binary runs them: a Gateway
// over a JobsClient, the GatewayService over that, and a server with health,
// reflection and a receive limit just above the forwarding limit. main.cc and
// the tests both start it, so the tests run what ships.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gateway/gateway.h"
#include "gateway/gateway_service.h"
#include "grpcpp/server.h"
#include "lib/client/jobs_client.h"
#include "lib/service/server.h"

namespace replex::gateway {

struct GatewayServerOptions {
  std::string address = "127.0.0.1:0";  // host:port; port 0 picks one
  GatewayOptions gateway;
  GatewayServiceOptions service;
  // Per-call gRPC metrics go here when set (see service::ServerOptions).
  prometheus::Registry* metrics = nullptr;
  // TLS (service::MakeServerCredentials); null: plaintext.
  std::shared_ptr<grpc::ServerCredentials> credentials;
};

// Thread-safe.
class GatewayServer {
 public:
  // `jobs` is not owned and must outlive the server. FAILED_PRECONDITION
  // naming the address when it cannot listen there.
  static absl::StatusOr<std::unique_ptr<GatewayServer>> Start(
      client::JobsClient* jobs, const GatewayServerOptions& options);
  // Shuts down at once if Shutdown was not called.
  ~GatewayServer();

  // Graceful stop: health turns NOT_SERVING, watches end with UNAVAILABLE
  // (clients watch again elsewhere), new calls are refused, and calls in
  // flight get until `deadline` before they are cancelled. Returns when
  // the server has stopped. Idempotent.
  void Shutdown(absl::Time deadline);

  int port() const { return port_; }
  // "127.0.0.1:PORT", for clients on this machine.
  std::string local_address() const;
  GatewayService& service() { return service_; }

 private:
  GatewayServer(client::JobsClient* jobs, const GatewayServerOptions& options);

  Gateway gateway_;
  GatewayService service_;
  // Declared after the service, so destroyed (shut down) before it.
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace replex::gateway
