// GrpcJobsClient against a stand-in coordinator: the gateway's JobService
// server over a fake, on a real socket. Checks what crosses the wire: results,
// error codes and messages, a watch's events, and that stopping a watch cancels
// the call on the far side.
#include "lib/client/grpc_jobs_client.h"

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gateway/gateway_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/client/testing/fake_jobs_client.h"

namespace replex::client {
namespace {

using ::replex::gateway::GatewayServer;
using ::testing::HasSubstr;
using ::testing::SizeIs;

v1::JobEvent Snapshot(const std::string& id, v1::JobState state) {
  v1::JobEvent event;
  event.set_job_id(id);
  event.mutable_snapshot()->set_job_id(id);
  event.mutable_snapshot()->set_state(state);
  return event;
}

class GrpcJobsClientTest : public ::testing::Test {
 protected:
  GrpcJobsClientTest() {
    absl::StatusOr<std::unique_ptr<GatewayServer>> started =
        GatewayServer::Start(&fake_, {});
    EXPECT_TRUE(started.ok()) << started.status();
    coordinator_ = *std::move(started);
    GrpcJobsClientOptions options;
    options.address = coordinator_->local_address();
    client_ = std::make_unique<GrpcJobsClient>(options);
  }

  FakeJobsClient fake_;
  // Stands in for the coordinator: it serves the same JobService.
  std::unique_ptr<GatewayServer> coordinator_;
  std::unique_ptr<GrpcJobsClient> client_;
};

TEST_F(GrpcJobsClientTest, UnaryCallsRoundTrip) {
  fake_.PutJob(Snapshot("a", v1::RUNNING).snapshot());
  v1::GetJobRequest get;
  get.set_job_id("a");
  absl::StatusOr<v1::Job> job = client_->GetJob(get);
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->state(), v1::RUNNING);

  absl::StatusOr<v1::ListJobsResponse> list = client_->ListJobs({});
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_THAT(list->jobs(), SizeIs(1));

  v1::CancelJobRequest cancel;
  cancel.set_job_id("a");
  job = client_->CancelJob(cancel);
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->state(), v1::CANCELLED);
}

TEST_F(GrpcJobsClientTest, CoordinatorErrorsKeepTheirCodeAndMessage) {
  v1::GetJobRequest get;
  get.set_job_id("missing");
  absl::StatusOr<v1::Job> job = client_->GetJob(get);
  EXPECT_EQ(job.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(job.status().message(), "no job with id missing");
}

TEST_F(GrpcJobsClientTest, UnavailableSentByAConnectedPeerPassesThrough) {
  // What a gateway answers when its coordinator is down: the gateway itself
  // is reachable, so the message must not be blamed on it.
  fake_.PutJob(Snapshot("a", v1::RUNNING).snapshot());
  v1::GetJobRequest get;
  get.set_job_id("a");
  ASSERT_TRUE(client_->GetJob(get).ok());
  fake_.FailWith(absl::UnavailableError(
      "coordinator at 10.0.0.1:7070 is unreachable: connection refused"));
  absl::StatusOr<v1::Job> job = client_->GetJob(get);
  EXPECT_EQ(job.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(job.status().message(),
            "coordinator at 10.0.0.1:7070 is unreachable: connection refused");
}

TEST(GrpcJobsClientUnreachableTest, SaysWhichCoordinatorItTried) {
  // Bind a port and let it go, so nothing listens there.
  int port = 0;
  {
    FakeJobsClient fake;
    absl::StatusOr<std::unique_ptr<GatewayServer>> server =
        GatewayServer::Start(&fake, {});
    ASSERT_TRUE(server.ok());
    port = (*server)->port();
  }
  GrpcJobsClientOptions options;
  options.address = absl::StrCat("127.0.0.1:", port);
  options.unreachable_hint = "; start one there";
  GrpcJobsClient client(options);
  absl::StatusOr<v1::ListJobsResponse> list = client.ListJobs({});
  EXPECT_EQ(list.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(list.status().message(),
              HasSubstr(absl::StrCat("coordinator at 127.0.0.1:", port,
                                     " is unreachable: ")));
  EXPECT_THAT(std::string(list.status().message()),
              ::testing::EndsWith("; start one there"));
  StopSignal stop;
  v1::WatchJobRequest watch;
  watch.set_job_id("a");
  EXPECT_EQ(
      client.WatchJob(watch, stop, [](const v1::JobEvent&) { return true; })
          .code(),
      absl::StatusCode::kUnavailable);
}

TEST_F(GrpcJobsClientTest, WatchDeliversEventsAndEndsOk) {
  fake_.PutJob(Snapshot("a", v1::SUCCEEDED).snapshot(),
               {Snapshot("a", v1::RUNNING), Snapshot("a", v1::SUCCEEDED)});
  StopSignal stop;
  std::vector<v1::JobState> states;
  v1::WatchJobRequest request;
  request.set_job_id("a");
  const absl::Status status =
      client_->WatchJob(request, stop, [&](const v1::JobEvent& event) {
        states.push_back(event.snapshot().state());
        return true;
      });
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_THAT(states, ::testing::ElementsAre(v1::RUNNING, v1::SUCCEEDED));
}

TEST_F(GrpcJobsClientTest, StoppingAWatchCancelsItOnTheCoordinator) {
  fake_.PutJob(Snapshot("a", v1::RUNNING).snapshot(),
               {Snapshot("a", v1::RUNNING)}, /*hold_open=*/true);
  StopSignal stop;
  v1::WatchJobRequest request;
  request.set_job_id("a");
  absl::Status status;
  std::thread watcher([&] {
    status = client_->WatchJob(request, stop,
                               [&](const v1::JobEvent&) { return true; });
  });
  // Stop once the call is surely under way; stopping earlier must work too,
  // but this is the case that needs the RPC cancelled.
  absl::SleepFor(absl::Milliseconds(200));
  stop.Stop(absl::CancelledError("test is done"));
  watcher.join();
  EXPECT_EQ(status.code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(status.message(), "test is done");
  EXPECT_TRUE(fake_.WaitForWatchStopped("a", absl::Seconds(10)));
}

TEST_F(GrpcJobsClientTest, StoppedBeforeItStartsNeverWaits) {
  fake_.PutJob(Snapshot("a", v1::RUNNING).snapshot(), {}, /*hold_open=*/true);
  StopSignal stop;
  stop.Stop(absl::CancelledError("early"));
  v1::WatchJobRequest request;
  request.set_job_id("a");
  EXPECT_EQ(
      client_->WatchJob(request, stop, [](const v1::JobEvent&) { return true; })
          .message(),
      "early");
}

TEST_F(GrpcJobsClientTest, CallbackReturningFalseEndsTheWatch) {
  fake_.PutJob(Snapshot("a", v1::RUNNING).snapshot(),
               {Snapshot("a", v1::RUNNING)}, /*hold_open=*/true);
  StopSignal stop;
  v1::WatchJobRequest request;
  request.set_job_id("a");
  EXPECT_EQ(
      client_
          ->WatchJob(request, stop, [](const v1::JobEvent&) { return false; })
          .code(),
      absl::StatusCode::kCancelled);
  EXPECT_TRUE(fake_.WaitForWatchStopped("a", absl::Seconds(10)));
}

}  // namespace
}  // namespace replex::client
