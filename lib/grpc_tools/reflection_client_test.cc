// The reflection-only client against the real gateway server (in this
// process, on port 0) over a fake coordinator: it must find JobService by
// reflection alone, carry a JSON job all the way into a SubmitJobRequest,
// read it back with GetJob, follow a server stream and name what is wrong
// with a bad method or bad JSON.
#include "lib/grpc_tools/reflection_client.h"

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gateway/gateway_server.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "lib/client/testing/fake_jobs_client.h"
#include "tests/test_paths.h"

namespace replex::grpc_tools {
namespace {

using ::replex::client::FakeJobsClient;
using ::replex::gateway::GatewayServer;
using ::replex::testing::SourcePath;
using ::testing::Contains;
using ::testing::HasSubstr;

std::string ReadFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// `text` as a JSON string literal (the XML files have only these to escape).
std::string JsonString(const std::string &text) {
  return absl::StrCat("\"",
                      absl::StrReplaceAll(text, {{"\\", "\\\\"},
                                                 {"\"", "\\\""},
                                                 {"\n", "\\n"},
                                                 {"\t", "\\t"},
                                                 {"\r", "\\r"}}),
                      "\"");
}

class ReflectionClientTest : public ::testing::Test {
 protected:
  ReflectionClientTest() {
    absl::StatusOr<std::unique_ptr<GatewayServer>> started =
        GatewayServer::Start(&fake_, {});
    EXPECT_TRUE(started.ok()) << started.status();
    server_ = *std::move(started);
    client_ = std::make_unique<ReflectionClient>(grpc::CreateChannel(
        server_->local_address(), grpc::InsecureChannelCredentials()));
  }

  // Calls `method` with `json`; the responses as JSON.
  absl::StatusOr<std::vector<std::string>> Call(const std::string &method,
                                                const std::string &json) {
    std::vector<std::string> responses;
    absl::Status status = client_->Call(
        method, json,
        [&](const std::string &response) { responses.push_back(response); });
    if (!status.ok()) return status;
    return responses;
  }

  FakeJobsClient fake_;
  std::unique_ptr<GatewayServer> server_;
  std::unique_ptr<ReflectionClient> client_;
};

TEST_F(ReflectionClientTest, ListsTheServicesByReflection) {
  absl::StatusOr<std::vector<std::string>> services = client_->ListServices();
  ASSERT_TRUE(services.ok()) << services.status();
  EXPECT_THAT(*services, Contains("replex.v1.JobService"));
  EXPECT_THAT(*services, Contains("grpc.health.v1.Health"));
}

// gRPC serves grpc.health.v1.Health without its descriptor; every replex
// server links it in (proto/grpc/health/v1/health.proto), so reflection
// describes the service and it can be called as docs/api.md shows.
TEST_F(ReflectionClientTest, CallsTheHealthServiceByReflection) {
  absl::StatusOr<std::vector<std::string>> result =
      Call("grpc.health.v1.Health/Check", "{}");
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->size(), 1u);
  EXPECT_THAT((*result)[0], HasSubstr(R"("status": "SERVING")"));
}

// The example job as docs/api.md builds it for grpcurl (JSON names in
// camelCase and proto names mixed, as a user may write them).
TEST_F(ReflectionClientTest, SubmitsAJobFromJsonAndReadsItBack) {
  const std::string dir = SourcePath("examples/harmonic-oscillator/");
  const std::string system = ReadFile(dir + "system.xml");
  const std::string json = absl::StrCat(
      R"({"spec": {"name": "harmonic-oscillator", "owner": "ada",
          "labels": {"kind": "example"}, "system_xml": )",
      JsonString(system), R"(, "stateXml": )",
      JsonString(ReadFile(dir + "state.xml")), R"(,
          "platform": "Reference", "seed": 2026,
          "integrator": {"timestep_ps": 0.002, "friction_per_ps": 20},
          "ladder": {"n_rungs": 4, "temperature_range_k":
                     {"min": 300, "max": 600, "spacing": "GEOMETRIC"}},
          "exchange": {"scheme": "NEIGHBORS", "steps_per_exchange": 50,
                       "n_rounds": 2000}}})");
  absl::StatusOr<std::vector<std::string>> submitted =
      Call("replex.v1.JobService/SubmitJob", json);
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  ASSERT_EQ(submitted->size(), 1u);
  EXPECT_THAT((*submitted)[0], HasSubstr(R"("jobId": "job-1")"));

  // Every field reached the coordinator's request intact.
  const std::vector<v1::SubmitJobRequest> requests = fake_.submitted();
  ASSERT_EQ(requests.size(), 1u);
  const v1::JobSpec &spec = requests[0].spec();
  EXPECT_EQ(spec.name(), "harmonic-oscillator");
  EXPECT_EQ(spec.owner(), "ada");
  EXPECT_EQ(spec.labels().at("kind"), "example");
  EXPECT_EQ(spec.system_xml(), system);
  EXPECT_EQ(spec.platform(), "Reference");
  EXPECT_EQ(spec.ladder().n_rungs(), 4);
  EXPECT_EQ(spec.exchange().n_rounds(), 2000);

  // Both method spellings.
  for (const char *method :
       {"replex.v1.JobService/GetJob", "replex.v1.JobService.GetJob"}) {
    absl::StatusOr<std::vector<std::string>> job =
        Call(method, R"({"job_id": "job-1"})");
    ASSERT_TRUE(job.ok()) << method << ": " << job.status();
    ASSERT_EQ(job->size(), 1u);
    EXPECT_THAT((*job)[0], HasSubstr(R"("jobId": "job-1")"));
    EXPECT_THAT((*job)[0], HasSubstr(R"("state": "QUEUED")"));
    EXPECT_THAT((*job)[0], HasSubstr(R"("name": "harmonic-oscillator")"));
  }
}

TEST_F(ReflectionClientTest, FollowsAServerStreamToItsEnd) {
  v1::Job job;
  job.set_job_id("j1");
  job.set_state(v1::SUCCEEDED);
  v1::JobEvent snapshot, round;
  snapshot.set_job_id("j1");
  *snapshot.mutable_snapshot() = job;
  round.set_job_id("j1");
  round.mutable_round()->set_round(7);
  fake_.PutJob(job, {snapshot, round});
  absl::StatusOr<std::vector<std::string>> events =
      Call("replex.v1.JobService/WatchJob", R"({"jobId": "j1"})");
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 2u);
  EXPECT_THAT((*events)[0], HasSubstr("snapshot"));
  EXPECT_THAT((*events)[1], HasSubstr(R"("round": "7")"));
}

TEST_F(ReflectionClientTest, PassesTheServersErrorOn) {
  absl::StatusOr<std::vector<std::string>> job =
      Call("replex.v1.JobService/GetJob", R"({"job_id": "j404"})");
  EXPECT_EQ(job.status().code(), absl::StatusCode::kNotFound) << job.status();
}

TEST_F(ReflectionClientTest, NamesWhatIsWrongWithTheMethodOrTheJson) {
  absl::StatusOr<std::vector<std::string>> result =
      Call("replex.v1.NoService/GetJob", "{}");
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(result.status().message(),
              HasSubstr("no service \"replex.v1.NoService\""));
  EXPECT_THAT(result.status().message(), HasSubstr("replex.v1.JobService"));

  result = Call("replex.v1.JobService/GetJobs", "{}");
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(result.status().message(), HasSubstr("no method \"GetJobs\""));
  EXPECT_THAT(result.status().message(), HasSubstr("SubmitJob"));

  result = Call("GetJob", "{}");
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(result.status().message(), HasSubstr("package.Service/Method"));

  result = Call("replex.v1.JobService/GetJob", R"({"jobid": "j1"})");
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(result.status().message(),
              HasSubstr("not a replex.v1.GetJobRequest"));
  EXPECT_THAT(result.status().message(), HasSubstr("jobid"));
  EXPECT_TRUE(fake_.submitted().empty());
}

TEST(ReflectionClientUnreachableTest, SaysTheServerCannotBeReached) {
  // Port 1 on this machine: nothing listens there.
  ReflectionClient client(
      grpc::CreateChannel("127.0.0.1:1", grpc::InsecureChannelCredentials()));
  absl::Status status = client.Call("replex.v1.JobService/GetJob", "{}",
                                    [](const std::string &) {});
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_THAT(status.message(), HasSubstr("server reflection"));
}

}  // namespace
}  // namespace replex::grpc_tools
