// The public JobService end to end in-process: the server replex-gateway
// runs (health, reflection, size limits) over a fake coordinator, called
// through the generated stub as any client would.
#include "gateway/gateway_service.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gateway/gateway.h"
#include "gateway/gateway_server.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "lib/client/testing/fake_jobs_client.h"
#include "lib/grpc_tools/health_probe.h"
#include "lib/grpc_tools/reflection_client.h"

namespace replex::gateway {
namespace {

using ::replex::client::FakeJobsClient;
using ::replex::grpc_tools::CheckHealth;
using ::replex::grpc_tools::ReflectionDescriptorDatabase;
using ::testing::HasSubstr;
using ::testing::SizeIs;

// Small so that oversized jobs are cheap to build.
constexpr int64_t kLimit = 1 << 20;

v1::JobSpec ValidSpec() {
  v1::JobSpec spec;
  spec.set_name("tiny");
  // The gateway checks presence and shape, not the XML: the coordinator's
  // engine parses it.
  spec.set_system_xml("<System/>");
  spec.set_state_xml("<State/>");
  for (double t : {300.0, 320.0, 340.0})
    spec.mutable_ladder()->add_temperatures_k(t);
  spec.mutable_exchange()->set_steps_per_exchange(10);
  spec.mutable_exchange()->set_n_rounds(5);
  return spec;
}

v1::Job MakeJob(const std::string& id, v1::JobState state) {
  v1::Job job;
  job.set_job_id(id);
  job.set_state(state);
  job.set_n_rounds(3);
  return job;
}

v1::JobEvent Snapshot(const v1::Job& job) {
  v1::JobEvent event;
  event.set_job_id(job.job_id());
  *event.mutable_snapshot() = job;
  return event;
}

v1::JobEvent Round(const std::string& id, int64_t round) {
  v1::JobEvent event;
  event.set_job_id(id);
  event.mutable_round()->set_round(round);
  return event;
}

class GatewayServiceTest : public ::testing::Test {
 protected:
  GatewayServiceTest() { Start({}); }

  void Start(GatewayServiceOptions options) {
    server_.reset();
    GatewayServerOptions server_options;
    server_options.gateway.max_message_bytes = kLimit;
    server_options.service = options;
    absl::StatusOr<std::unique_ptr<GatewayServer>> started =
        GatewayServer::Start(&fake_, server_options);
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = *std::move(started);
    channel_ = grpc::CreateChannel(server_->local_address(),
                                   grpc::InsecureChannelCredentials());
    stub_ = v1::JobService::NewStub(channel_);
  }

  // Reads a whole watch: its events and final status.
  grpc::Status Watch(const std::string& id, std::vector<v1::JobEvent>& events) {
    grpc::ClientContext context;
    v1::WatchJobRequest request;
    request.set_job_id(id);
    auto reader = stub_->WatchJob(&context, request);
    v1::JobEvent event;
    while (reader->Read(&event)) events.push_back(event);
    return reader->Finish();
  }

  // Watches a job that stays running (the fake holds the watch open) and
  // reads its first event; null if that fails.
  std::unique_ptr<grpc::ClientReader<v1::JobEvent>> WatchRunningJob(
      const std::string& id, grpc::ClientContext& context) {
    const v1::Job running = MakeJob(id, v1::RUNNING);
    fake_.PutJob(running, {Snapshot(running)}, /*hold_open=*/true);
    v1::WatchJobRequest request;
    request.set_job_id(id);
    auto reader = stub_->WatchJob(&context, request);
    v1::JobEvent event;
    if (!reader->Read(&event)) return nullptr;
    return reader;
  }

  FakeJobsClient fake_;
  std::unique_ptr<GatewayServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::JobService::Stub> stub_;
};

TEST_F(GatewayServiceTest, SubmitForwardsTheSpecWithDefaultsFilledIn) {
  grpc::ClientContext context;
  v1::SubmitJobRequest request;
  *request.mutable_spec() = ValidSpec();
  v1::SubmitJobResponse response;
  const grpc::Status status = stub_->SubmitJob(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.job_id(), "job-1");
  const std::vector<v1::SubmitJobRequest> submitted = fake_.submitted();
  ASSERT_THAT(submitted, SizeIs(1));
  EXPECT_EQ(submitted[0].spec().name(), "tiny");
  EXPECT_EQ(submitted[0].spec().platform(), "CPU");
  EXPECT_DOUBLE_EQ(submitted[0].spec().integrator().timestep_ps(), 0.002);
}

TEST_F(GatewayServiceTest, MalformedSpecIsRefusedNamingTheField) {
  struct Case {
    std::string what;
    void (*spoil)(v1::JobSpec&);
    std::string field;
  };
  const std::vector<Case> cases = {
      {"no steps",
       [](v1::JobSpec& s) { s.mutable_exchange()->set_steps_per_exchange(0); },
       "exchange.steps_per_exchange"},
      {"no system", [](v1::JobSpec& s) { s.clear_system_xml(); }, "system"},
      {"no coordinates", [](v1::JobSpec& s) { s.clear_state_xml(); },
       "coordinates"},
      {"decreasing ladder",
       [](v1::JobSpec& s) { s.mutable_ladder()->set_temperatures_k(2, 310); },
       "ladder.temperatures_k"},
      {"unknown platform", [](v1::JobSpec& s) { s.set_platform("Metal"); },
       "platform"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    grpc::ClientContext context;
    v1::SubmitJobRequest request;
    *request.mutable_spec() = ValidSpec();
    c.spoil(*request.mutable_spec());
    v1::SubmitJobResponse response;
    const grpc::Status status = stub_->SubmitJob(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), HasSubstr(c.field));
  }
  // An empty request is just another malformed spec.
  grpc::ClientContext context;
  v1::SubmitJobResponse response;
  EXPECT_EQ(stub_->SubmitJob(&context, {}, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(fake_.submitted(), SizeIs(0));
}

TEST_F(GatewayServiceTest, OversizedSystemXmlSaysHowBigAndWhichFlag) {
  grpc::ClientContext context;
  v1::SubmitJobRequest request;
  *request.mutable_spec() = ValidSpec();
  request.mutable_spec()->set_system_xml(std::string(kLimit * 3 / 2, 'x'));
  v1::SubmitJobResponse response;
  const grpc::Status status = stub_->SubmitJob(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(), HasSubstr("System XML 1.5 MiB"));
  EXPECT_THAT(status.error_message(),
              HasSubstr("limit of 1.0 MiB (1048576 bytes)"));
  EXPECT_THAT(status.error_message(), HasSubstr("--max_message_bytes"));
  EXPECT_THAT(fake_.submitted(), SizeIs(0));
}

TEST_F(GatewayServiceTest, FarOversizedJobIsRefusedByGrpcItself) {
  grpc::ClientContext context;
  v1::SubmitJobRequest request;
  *request.mutable_spec() = ValidSpec();
  request.mutable_spec()->set_system_xml(std::string(kLimit * 3, 'x'));
  v1::SubmitJobResponse response;
  EXPECT_EQ(stub_->SubmitJob(&context, request, &response).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  // And the server is none the worse for it.
  EXPECT_EQ(CheckHealth(channel_).value_or(""), "SERVING");
}

TEST_F(GatewayServiceTest, UnknownJobIsNotFoundWithTheCoordinatorsMessage) {
  grpc::ClientContext context;
  v1::GetJobRequest request;
  request.set_job_id("job-404");
  v1::Job job;
  const grpc::Status status = stub_->GetJob(&context, request, &job);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(status.error_message(), "no job with id job-404");
}

TEST_F(GatewayServiceTest, MalformedJobIdsAreInvalidArgumentOnEveryMethod) {
  for (const std::string& id :
       {std::string(), std::string("has space"), std::string("../etc"),
        std::string("new\nline"), std::string(200, 'a'),
        std::string("nul\0byte", 8)}) {
    SCOPED_TRACE(id);
    v1::Job job;
    {
      grpc::ClientContext context;
      v1::GetJobRequest request;
      request.set_job_id(id);
      const grpc::Status status = stub_->GetJob(&context, request, &job);
      EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
      EXPECT_THAT(status.error_message(), HasSubstr("a job id is 1 to 128"));
    }
    {
      grpc::ClientContext context;
      v1::CancelJobRequest request;
      request.set_job_id(id);
      EXPECT_EQ(stub_->CancelJob(&context, request, &job).error_code(),
                grpc::StatusCode::INVALID_ARGUMENT);
    }
    std::vector<v1::JobEvent> events;
    EXPECT_EQ(Watch(id, events).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(events, SizeIs(0));
    {
      grpc::ClientContext context;
      v1::DownloadResultsRequest request;
      request.set_job_id(id);
      auto reader = stub_->DownloadResults(&context, request);
      v1::ResultsChunk chunk;
      EXPECT_FALSE(reader->Read(&chunk));
      EXPECT_EQ(reader->Finish().error_code(),
                grpc::StatusCode::INVALID_ARGUMENT);
    }
  }
}

TEST_F(GatewayServiceTest, ListFiltersByStateAndRefusesUnknownStates) {
  fake_.PutJob(MakeJob("a", v1::RUNNING));
  fake_.PutJob(MakeJob("b", v1::SUCCEEDED));
  {
    grpc::ClientContext context;
    v1::ListJobsRequest request;
    request.add_states(v1::RUNNING);
    v1::ListJobsResponse response;
    ASSERT_TRUE(stub_->ListJobs(&context, request, &response).ok());
    ASSERT_THAT(response.jobs(), SizeIs(1));
    EXPECT_EQ(response.jobs(0).job_id(), "a");
  }
  grpc::ClientContext context;
  v1::ListJobsRequest request;
  request.add_states(static_cast<v1::JobState>(99));
  v1::ListJobsResponse response;
  const grpc::Status status = stub_->ListJobs(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("states[0]: 99"));
}

TEST_F(GatewayServiceTest, CancelForwards) {
  fake_.PutJob(MakeJob("a", v1::RUNNING));
  grpc::ClientContext context;
  v1::CancelJobRequest request;
  request.set_job_id("a");
  v1::Job job;
  ASSERT_TRUE(stub_->CancelJob(&context, request, &job).ok());
  EXPECT_EQ(job.state(), v1::CANCELLED);
}

TEST_F(GatewayServiceTest, CoordinatorErrorsPassThrough) {
  fake_.FailWith(absl::UnavailableError(
      "coordinator at localhost:7070 is unreachable: connection refused"));
  grpc::ClientContext context;
  v1::ListJobsResponse response;
  const grpc::Status status = stub_->ListJobs(&context, {}, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(status.error_message(), HasSubstr("localhost:7070"));
  std::vector<v1::JobEvent> events;
  EXPECT_EQ(Watch("a", events).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(GatewayServiceTest, WatchStreamsTheEventsInOrderThenEndsOk) {
  v1::Job running = MakeJob("a", v1::RUNNING);
  v1::Job done = MakeJob("a", v1::SUCCEEDED);
  // More events than the reactor queues, so the upstream reader waits on the
  // client at least once.
  std::vector<v1::JobEvent> script = {Snapshot(running)};
  for (int r = 0; r < 300; ++r) script.push_back(Round("a", r));
  script.push_back(Snapshot(done));
  fake_.PutJob(done, script);

  std::vector<v1::JobEvent> events;
  const grpc::Status status = Watch("a", events);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_THAT(events, SizeIs(script.size()));
  for (size_t i = 0; i < script.size(); ++i) {
    EXPECT_EQ(events[i].SerializeAsString(), script[i].SerializeAsString())
        << "event " << i;
  }
}

TEST_F(GatewayServiceTest, WatchOfUnknownJobIsNotFound) {
  std::vector<v1::JobEvent> events;
  EXPECT_EQ(Watch("nope", events).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(GatewayServiceTest, ClientGoingAwayCancelsTheUpstreamWatch) {
  grpc::ClientContext context;
  auto reader = WatchRunningJob("a", context);
  ASSERT_NE(reader, nullptr);
  context.TryCancel();
  EXPECT_TRUE(fake_.WaitForWatchStopped("a", absl::Seconds(10)));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

TEST_F(GatewayServiceTest,
       ShutdownEndsWatchesWithUnavailableAndRefusesNewOnes) {
  grpc::ClientContext context;
  auto reader = WatchRunningJob("a", context);
  ASSERT_NE(reader, nullptr);
  server_->service().BeginShutdown();
  v1::JobEvent event;
  EXPECT_FALSE(reader->Read(&event));
  const grpc::Status status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(status.error_message(), HasSubstr("shutting down"));
  std::vector<v1::JobEvent> events;
  EXPECT_EQ(Watch("a", events).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(GatewayServiceTest, WatchesBeyondTheLimitAreResourceExhausted) {
  GatewayServiceOptions options;
  options.max_watches = 1;
  Start(options);
  grpc::ClientContext context;
  auto reader = WatchRunningJob("a", context);
  ASSERT_NE(reader, nullptr);
  std::vector<v1::JobEvent> events;
  EXPECT_EQ(Watch("a", events).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  context.TryCancel();
  reader->Finish();
}

TEST_F(GatewayServiceTest, HealthReportsServing) {
  absl::StatusOr<std::string> health = CheckHealth(channel_);
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(*health, "SERVING");
}

TEST_F(GatewayServiceTest, ReflectionListsTheJobService) {
  absl::StatusOr<std::vector<std::string>> services =
      ReflectionDescriptorDatabase(channel_).ListServices();
  ASSERT_TRUE(services.ok()) << services.status();
  EXPECT_THAT(*services, ::testing::Contains("replex.v1.JobService"));
  EXPECT_THAT(*services, ::testing::Contains("grpc.health.v1.Health"));
}

TEST(CheckJobIdTest, AcceptsWhatCoordinatorsHandOut) {
  for (const char* id : {"job-1", "7f3a9c", "2024-05-01.alanine_T300",
                         "0123456789abcdef0123456789abcdef"}) {
    EXPECT_TRUE(CheckJobId(id).ok()) << id;
  }
  EXPECT_TRUE(CheckJobId(std::string(kMaxJobIdLength, 'a')).ok());
  EXPECT_FALSE(CheckJobId(std::string(kMaxJobIdLength + 1, 'a')).ok());
}

TEST(ServerReceiveLimitTest, LeavesRoomAboveTheForwardingLimit) {
  EXPECT_EQ(ServerReceiveLimit(64 << 20), 80 << 20);
  EXPECT_EQ(ServerReceiveLimit(1024), 1024 + (1 << 20));
  EXPECT_EQ(ServerReceiveLimit(int64_t{2000} << 20), INT_MAX);
}

}  // namespace
}  // namespace replex::gateway
