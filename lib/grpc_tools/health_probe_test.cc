// CheckHealth against gRPC's own health service in a replex server in this
// process, on port 0: the hand-encoded request must name the service asked
// about, and each answer (or failure) must come back as the server gave it.
#include "lib/grpc_tools/health_probe.h"

#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/server.h"
#include "gtest/gtest.h"
#include "lib/service/server.h"

namespace replex::grpc_tools {
namespace {

// A replex server (service::StartServer) with no service of its own: health
// and reflection only.
class HealthServer {
 public:
  HealthServer() {
    absl::StatusOr<service::RunningServer> started =
        service::StartServer({}, {});
    EXPECT_TRUE(started.ok()) << started.status();
    if (started.ok()) running_ = *std::move(started);
  }
  ~HealthServer() {
    if (running_.server != nullptr) running_.server->Shutdown();
  }

  int port() const { return running_.port; }
  grpc::HealthCheckServiceInterface& health() {
    return *running_.server->GetHealthCheckService();
  }
  std::shared_ptr<grpc::Channel> Channel() const {
    return grpc::CreateChannel(absl::StrCat("127.0.0.1:", port()),
                               grpc::InsecureChannelCredentials());
  }

 private:
  service::RunningServer running_;
};

TEST(CheckHealthTest, WholeServerIsServing) {
  HealthServer server;
  ASSERT_NE(server.port(), 0);
  absl::StatusOr<std::string> health = CheckHealth(server.Channel());
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(*health, "SERVING");
}

TEST(CheckHealthTest, AsksAboutTheNamedService) {
  HealthServer server;
  server.health().SetServingStatus("replex.v1.Up", true);
  server.health().SetServingStatus("replex.v1.Down", false);
  EXPECT_EQ(CheckHealth(server.Channel(), "replex.v1.Up").value_or(""),
            "SERVING");
  EXPECT_EQ(CheckHealth(server.Channel(), "replex.v1.Down").value_or(""),
            "NOT_SERVING");
  // The whole server stays as it was.
  EXPECT_EQ(CheckHealth(server.Channel()).value_or(""), "SERVING");
}

TEST(CheckHealthTest, UnknownServiceIsNotFound) {
  HealthServer server;
  EXPECT_EQ(CheckHealth(server.Channel(), "replex.v1.Nothing").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(CheckHealthTest, NoServerIsUnavailable) {
  int port = 0;
  {
    HealthServer server;
    port = server.port();
  }
  absl::StatusOr<std::string> health = CheckHealth(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  EXPECT_EQ(health.status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace replex::grpc_tools
