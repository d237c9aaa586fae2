// The replex-gateway binary as a child process: binds port 0 and reports it
// in --port_file, serves health, says which coordinator it cannot reach, and
// exits 0 on SIGTERM.
#include <signal.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "lib/grpc_tools/health_probe.h"
#include "replex/v1/job_service.grpc.pb.h"
#include "tests/process.h"

namespace replex::gateway {
namespace {

using ::replex::testing::Process;
using ::testing::HasSubstr;

// Each test's port file and logs live in a directory of its own, removed
// afterwards (failures print the log first).
class GatewayMainTest : public ::testing::Test {
 protected:
  GatewayMainTest()
      : dir_(std::filesystem::temp_directory_path() /
             absl::StrCat("gateway_main_test.", getpid(), ".",
                          ::testing::UnitTest::GetInstance()
                              ->current_test_info()
                              ->name())) {
    std::filesystem::create_directories(dir_);
  }
  ~GatewayMainTest() override { std::filesystem::remove_all(dir_); }

  std::string Path(const std::string& name) const { return dir_ / name; }

  std::unique_ptr<Process> StartGateway(std::vector<std::string> flags) {
    flags.insert(flags.begin(), REPLEX_GATEWAY_BIN);
    // Not the default metrics port, which parallel tests would share.
    flags.insert(flags.begin() + 1, "--metrics_listen=127.0.0.1:0");
    absl::StatusOr<std::unique_ptr<Process>> gateway =
        Process::Start(flags, Path("gateway.log"));
    EXPECT_TRUE(gateway.ok()) << gateway.status();
    return gateway.ok() ? *std::move(gateway) : nullptr;
  }

  const std::filesystem::path dir_;
};

TEST_F(GatewayMainTest, ServesUntilSigtermThenExitsZero) {
  const std::string port_file = Path("port");
  // Port 1 on loopback: nothing listens there, so the coordinator is down.
  std::unique_ptr<Process> gateway =
      StartGateway({"--listen=127.0.0.1:0", "--coordinator=127.0.0.1:1",
                    "--port_file=" + port_file});
  ASSERT_NE(gateway, nullptr);
  absl::StatusOr<std::string> port =
      replex::testing::WaitForFile(port_file, absl::Seconds(20));
  ASSERT_TRUE(port.ok()) << port.status() << "\n" << gateway->Log();
  const std::string address =
      absl::StrCat("127.0.0.1:", absl::StripAsciiWhitespace(*port));

  {
    auto channel =
        grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
    EXPECT_EQ(grpc_tools::CheckHealth(channel).value_or("no answer"),
              "SERVING");
    auto stub = v1::JobService::NewStub(channel);
    grpc::ClientContext context;
    v1::ListJobsResponse response;
    const grpc::Status status = stub->ListJobs(&context, {}, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
    EXPECT_THAT(status.error_message(),
                HasSubstr("coordinator at 127.0.0.1:1 is unreachable"));
  }
  // The channel is gone first: an idle client connection that nobody polls
  // holds a server's shutdown up for seconds (its GOAWAY goes unanswered).

  gateway->Signal(SIGTERM);
  EXPECT_EQ(gateway->Wait(absl::Seconds(20)), 0) << gateway->Log();
}

TEST_F(GatewayMainTest, BadFlagsExitTwoWithAMessage) {
  std::unique_ptr<Process> gateway =
      StartGateway({"--listen=127.0.0.1:0", "--max_message_bytes=10"});
  ASSERT_NE(gateway, nullptr);
  EXPECT_EQ(gateway->Wait(absl::Seconds(20)), 2);
  EXPECT_THAT(gateway->Log(), HasSubstr("--max_message_bytes is 10"));
}

TEST_F(GatewayMainTest, UnusableAddressExitsOneNamingIt) {
  std::unique_ptr<Process> gateway = StartGateway({"--listen=256.0.0.1:0"});
  ASSERT_NE(gateway, nullptr);
  EXPECT_EQ(gateway->Wait(absl::Seconds(20)), 1);
  EXPECT_THAT(gateway->Log(), HasSubstr("cannot listen on 256.0.0.1:0"));
}

}  // namespace
}  // namespace replex::gateway
