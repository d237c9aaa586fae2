#include "gateway/gateway_server.h"

#include "absl/strings/str_cat.h"
#include "grpcpp/health_check_service_interface.h"
#include "lib/service/server.h"

namespace replex::gateway {

GatewayServer::GatewayServer(client::JobsClient* jobs,
                             const GatewayServerOptions& options)
    : gateway_(jobs, options.gateway), service_(&gateway_, options.service) {}

absl::StatusOr<std::unique_ptr<GatewayServer>> GatewayServer::Start(
    client::JobsClient* jobs, const GatewayServerOptions& options) {
  std::unique_ptr<GatewayServer> server(new GatewayServer(jobs, options));
  service::ServerOptions server_options;
  server_options.address = options.address;
  server_options.metrics = options.metrics;
  server_options.credentials = options.credentials;
  // Above the forwarding limit, so Gateway::SubmitJob explains an oversized
  // job itself rather than gRPC refusing it with a bare size.
  server_options.max_message_bytes =
      ServerReceiveLimit(options.gateway.max_message_bytes);
  absl::StatusOr<service::RunningServer> running =
      service::StartServer(server_options, {&server->service_});
  if (!running.ok()) return running.status();
  server->server_ = std::move(running->server);
  server->port_ = running->port;
  return server;
}

GatewayServer::~GatewayServer() { Shutdown(absl::Now()); }

void GatewayServer::Shutdown(absl::Time deadline) {
  if (server_ == nullptr) return;  // it never started
  if (grpc::HealthCheckServiceInterface* health =
          server_->GetHealthCheckService()) {
    health->Shutdown();  // NOT_SERVING, so load balancers stop sending
  }
  service_.BeginShutdown();
  server_->Shutdown(absl::ToChronoTime(deadline));
  server_->Wait();
}

std::string GatewayServer::local_address() const {
  return absl::StrCat("127.0.0.1:", port_);
}

}  // namespace replex::gateway
