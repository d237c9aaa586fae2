// End-to-end tests of the cluster: real replex-coordinator, replex-gateway
// and replex-worker processes on loopback, driven through replexctl and the
// gateway's gRPC API.
#include <algorithm>
#include <iostream>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "lib/grpc_tools/health_probe.h"
#include "lib/grpc_tools/reflection_client.h"
#include "lib/runner/runner.h"
#include "tests/cluster.h"
#include "tests/sampling_checks.h"

namespace replex::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::IsSupersetOf;

absl::StatusOr<v1::Job> GetJob(const LocalCluster& cluster,
                               const std::string& id) {
  v1::GetJobRequest request;
  request.set_job_id(id);
  v1::Job job;
  grpc::ClientContext context;
  const grpc::Status status =
      cluster.GatewayStub()->GetJob(&context, request, &job);
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                        status.error_message());
  }
  return job;
}

// Polls GetJob until `done(job)`; fails the test with every log on timeout.
v1::Job WaitFor(const LocalCluster& cluster, const std::string& id,
                const std::function<bool(const v1::Job&)>& done,
                const std::string& what, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::StatusOr<v1::Job> job;
  while (absl::Now() < deadline) {
    job = GetJob(cluster, id);
    if (job.ok() && done(*job)) return *job;
    absl::SleepFor(absl::Milliseconds(2));
  }
  ADD_FAILURE() << "timed out waiting for job " << id << " to be " << what
                << "; last: "
                << (job.ok() ? job->ShortDebugString() : job.status().ToString())
                << "\n" << cluster.Logs();
  return job.ok() ? *job : v1::Job();
}

bool InState(const v1::Job& job, v1::JobState state) {
  return job.state() == state;
}

// Every round event of one job, read from WatchJob on a thread.
class Watcher {
 public:
  Watcher(const LocalCluster& cluster, const std::string& id)
      : stub_(cluster.GatewayStub()) {
    thread_ = std::thread([this, id] {
      v1::WatchJobRequest request;
      request.set_job_id(id);
      auto reader = stub_->WatchJob(&context_, request);
      v1::JobEvent event;
      while (reader->Read(&event)) {
        if (!subscribed_.HasBeenNotified()) subscribed_.Notify();
        if (event.has_round()) rounds_.push_back(event.round());
        if (event.has_snapshot()) last_snapshot_ = event.snapshot();
      }
      status_ = reader->Finish();
      if (!subscribed_.HasBeenNotified()) subscribed_.Notify();
    });
  }
  ~Watcher() { Join(); }
  void WaitSubscribed() { subscribed_.WaitForNotification(); }
  void Join() {
    if (thread_.joinable()) thread_.join();
  }
  const std::vector<v1::RoundEvent>& rounds() const { return rounds_; }
  const v1::Job& last_snapshot() const { return last_snapshot_; }
  const grpc::Status& status() const { return status_; }

 private:
  std::unique_ptr<v1::JobService::Stub> stub_;
  grpc::ClientContext context_;
  absl::Notification subscribed_;
  std::vector<v1::RoundEvent> rounds_;
  v1::Job last_snapshot_;
  grpc::Status status_;
  std::thread thread_;
};

// The umbrella example gives each replica its own start: a worker that
// started them all from the job's coordinates would see other energies and
// make other exchange decisions.
class SameLogTest : public ::testing::TestWithParam<const char*> {};

TEST_P(SameLogTest, ReplexctlRunsTheExampleWithTheSameExchangeLogAsEmbedded) {
  // A directory per example: ctest runs the two at once.
  LocalCluster cluster(absl::StrCat(
      "same-log-",
      std::filesystem::path(GetParam()).parent_path().filename().string()));
  ASSERT_TRUE(cluster.StartServices().ok()) << cluster.Logs();
  const std::string job_yaml = SourcePath(GetParam());
  // No worker yet, so the job waits (and says why) and the watcher sees
  // every round.
  const auto [submitted, submit_output] = cluster.Ctl("submit " + job_yaml);
  ASSERT_EQ(submitted, 0) << submit_output;
  const std::string id = JobIdOf(submit_output);
  EXPECT_TRUE(absl::StrContains(
      submit_output, absl::StrCat("replexctl: job ", id, " is queued: no "
                                  "Reference worker is connected")))
      << submit_output;
  const auto [status_code, status] = cluster.Ctl("status " + id);
  EXPECT_TRUE(absl::StrContains(
      status, "waiting      no Reference worker is connected"))
      << status;
  Watcher watcher(cluster, id);
  watcher.WaitSubscribed();
  ASSERT_TRUE(cluster.AddWorker().ok());
  ASSERT_TRUE(cluster.AddWorker().ok());
  const auto [code, output] = cluster.Ctl("watch " + id);
  EXPECT_EQ(code, 0) << output << cluster.Logs();
  watcher.Join();
  EXPECT_TRUE(watcher.status().ok()) << watcher.status().error_message();
  EXPECT_EQ(watcher.last_snapshot().state(), v1::SUCCEEDED);

  std::vector<std::vector<int>> embedded_log;
  std::vector<std::vector<int64_t>> embedded_accepts;
  runner::RunOptions options;
  options.on_round = [&](const runner::RoundReport& report) {
    embedded_log.push_back(report.outcome.after.rung_of_replica());
    embedded_accepts.push_back(report.outcome.pair_accepts);
    return absl::OkStatus();
  };
  ASSERT_TRUE(runner::RunJob(LoadExample(GetParam()), options).ok());
  ASSERT_EQ(watcher.rounds().size(), embedded_log.size());
  for (size_t r = 0; r < embedded_log.size(); ++r) {
    const v1::RoundEvent& event = watcher.rounds()[r];
    ASSERT_EQ(event.round(), static_cast<int64_t>(r));
    ASSERT_EQ(std::vector<int>(event.rung_of_replica().begin(),
                               event.rung_of_replica().end()),
              embedded_log[r])
        << "round " << r;
    ASSERT_EQ(std::vector<int64_t>(event.pair_accepts().begin(),
                                   event.pair_accepts().end()),
              embedded_accepts[r])
        << "round " << r;
  }
}

INSTANTIATE_TEST_SUITE_P(Examples, SameLogTest,
                         ::testing::Values("examples/harmonic-oscillator/job.yaml",
                                           "examples/umbrella-double-well/job.yaml"),
                         [](const auto& info) {
                           return info.index == 0 ? "Harmonic" : "Umbrella";
                         });

TEST(ClusterTest, SixtyFourReplicasOnTwoWorkersAndThreeOnFive) {
  LocalCluster cluster("multiplex");
  ASSERT_TRUE(cluster.StartServices().ok()) << cluster.Logs();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(cluster.AddWorker().ok());
  const std::string wide =
      cluster.SubmitJob(WriteHarmonicJob(cluster.dir(), "wide", 64, 10, 12));
  const std::string narrow =
      cluster.SubmitJob(WriteHarmonicJob(cluster.dir(), "narrow", 3, 10, 12));
  for (const std::string& id : {wide, narrow}) {
    const v1::Job job = WaitFor(
        cluster, id, [](const v1::Job& j) { return InState(j, v1::SUCCEEDED); },
        "SUCCEEDED", absl::Seconds(120));
    EXPECT_EQ(job.rounds_completed(), 12);
  }
  // The narrow job can use at most three of the five workers.
  EXPECT_EQ(WaitFor(cluster, narrow, [](const v1::Job&) { return true; },
                    "readable", absl::Seconds(5))
                .n_replicas(),
            3);
}

TEST(ClusterTest, SixtyFourReplicasOnExactlyTwoWorkers) {
  LocalCluster cluster("two-workers");
  ASSERT_TRUE(cluster.StartServices().ok()) << cluster.Logs();
  ASSERT_TRUE(cluster.AddWorker().ok());
  ASSERT_TRUE(cluster.AddWorker().ok());
  // Both registered before the job starts: the job lasts a fraction of a
  // second, and a worker that registered after its start would get replicas
  // only at a round boundary the job might not live to see.
  for (int w = 0; w < 2; ++w) {
    ASSERT_TRUE(WaitForLog(cluster.worker(w), "connected to"))
        << cluster.Logs();
  }
  const std::string id =
      cluster.SubmitJob(WriteHarmonicJob(cluster.dir(), "wide", 64, 10, 12));
  const v1::Job running = WaitFor(
      cluster, id,
      [](const v1::Job& j) { return j.workers() == 2 || j.state() >= v1::SUCCEEDED; },
      "on both workers", absl::Seconds(60));
  EXPECT_EQ(running.workers(), 2);
  const auto [code, output] = cluster.Ctl("watch " + id);
  EXPECT_EQ(code, 0) << output << cluster.Logs();
}

TEST(ClusterTest, AWorkerJoiningMidJobGetsReplicasWithinTwoRounds) {
  LocalCluster cluster("join");
  ASSERT_TRUE(cluster.StartServices().ok()) << cluster.Logs();
  ASSERT_TRUE(cluster.AddWorker().ok());
  // Rounds of about a tenth of a second, so polling resolves single rounds
  // and a loaded machine's delays stay shorter than a round.
  const std::string id =
      cluster.SubmitJob(WriteHarmonicJob(cluster.dir(), "join", 6, 50000, 40));
  WaitFor(
      cluster, id, [](const v1::Job& j) { return j.rounds_completed() >= 3; },
      "3 rounds in", absl::Seconds(60));
  ASSERT_TRUE(cluster.AddWorker().ok());
  // The moment the new worker is registered...
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (!absl::StrContains(cluster.worker(1).Log(), "connected to") &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(2));
  }
  ASSERT_THAT(cluster.worker(1).Log(), HasSubstr("connected to"));
  const int64_t joined_at = GetJob(cluster, id)->rounds_completed();
  // ...until the job's replicas sit on both workers.
  const v1::Job spread = WaitFor(
      cluster, id,
      [](const v1::Job& j) { return j.workers() == 2 || j.state() >= v1::SUCCEEDED; },
      "on two workers", absl::Seconds(60));
  EXPECT_EQ(spread.workers(), 2);
  std::cout << "worker joined after round " << joined_at
            << "; replicas on both workers after round "
            << spread.rounds_completed() << "\n";
  EXPECT_LE(spread.rounds_completed() - joined_at, 2)
      << "joined after round " << joined_at << ", used from round "
      << spread.rounds_completed();
  const v1::Job done = WaitFor(
      cluster, id, [](const v1::Job& j) { return j.state() >= v1::SUCCEEDED; },
      "finished", absl::Seconds(120));
  EXPECT_EQ(done.state(), v1::SUCCEEDED) << done.error() << cluster.Logs();
}

TEST(ClusterTest, TwoJobsShareTheWorkersAndCancelFreesCapacity) {
  LocalCluster cluster("multi-job");
  ASSERT_TRUE(cluster.StartServices().ok()) << cluster.Logs();
  // Room for 8 replicas in all.
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(cluster.AddWorker({.max_replicas = 4}).ok());
  }
  const std::string a =
      cluster.SubmitJob(WriteHarmonicJob(cluster.dir(), "a", 4, 50, 60, 1));
  const std::string b =
      cluster.SubmitJob(WriteHarmonicJob(cluster.dir(), "b", 4, 50, 60, 2));
  for (const std::string& id : {a, b}) {
    const v1::Job job = WaitFor(
        cluster, id, [](const v1::Job& j) { return j.state() >= v1::SUCCEEDED; },
        "finished", absl::Seconds(120));
    EXPECT_EQ(job.state(), v1::SUCCEEDED) << job.error();
  }

  // A job filling every place keeps the next one queued...
  const std::string big =
      cluster.SubmitJob(WriteHarmonicJob(cluster.dir(), "big", 8, 500, 1000000));
  WaitFor(
      cluster, big, [](const v1::Job& j) { return j.rounds_completed() > 0; },
      "running", absl::Seconds(60));
  const std::string small =
      cluster.SubmitJob(WriteHarmonicJob(cluster.dir(), "small", 4, 50, 30));
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_EQ(GetJob(cluster, small)->state(), v1::QUEUED);
  // ...until cancelling it frees the places at once.
  const auto [code, output] = cluster.Ctl("cancel " + big);
  EXPECT_EQ(code, 0) << output;
  EXPECT_EQ(GetJob(cluster, big)->state(), v1::CANCELLED);
  const v1::Job done = WaitFor(
      cluster, small, [](const v1::Job& j) { return j.state() >= v1::SUCCEEDED; },
      "finished", absl::Seconds(60));
  EXPECT_EQ(done.state(), v1::SUCCEEDED) << done.error();
}

TEST(ClusterTest, ServicesAreHealthyAndListedByReflection) {
  LocalCluster cluster("health");
  ASSERT_TRUE(cluster.StartServices().ok()) << cluster.Logs();
  const std::vector<std::pair<std::string, std::vector<std::string>>> servers =
      {{cluster.gateway(), {"replex.v1.JobService", "grpc.health.v1.Health"}},
       {cluster.coordinator(), {"replex.v1.JobService", "grpc.health.v1.Health"}},
       {cluster.worker_endpoint(),
        {"replex.v1.Coordinator", "grpc.health.v1.Health"}}};
  for (const auto& [address, services] : servers) {
    auto channel =
        grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
    const auto health = grpc_tools::CheckHealth(channel);
    ASSERT_TRUE(health.ok()) << address << ": " << health.status();
    EXPECT_EQ(*health, "SERVING") << address;
    const auto listed =
        grpc_tools::ReflectionDescriptorDatabase(channel).ListServices();
    ASSERT_TRUE(listed.ok()) << address << ": " << listed.status();
    EXPECT_THAT(*listed, IsSupersetOf(services)) << address;
    // Each of the coordinator's ports serves its callers' service only.
    EXPECT_EQ(std::count_if(listed->begin(), listed->end(),
                            [](const std::string& name) {
                              return absl::StartsWith(name, "replex.v1.");
                            }),
              1)
        << address;
  }
}

TEST(ClusterTest, BadRequestsGetClearErrorsWhileAJobKeepsRunning) {
  LocalCluster cluster("bad-requests");
  ASSERT_TRUE(cluster.StartServices().ok()) << cluster.Logs();
  ASSERT_TRUE(cluster.AddWorker().ok());
  const std::string running =
      cluster.SubmitJob(WriteHarmonicJob(cluster.dir(), "long", 4, 200, 1000000));
  WaitFor(
      cluster, running, [](const v1::Job& j) { return j.rounds_completed() > 0; },
      "running", absl::Seconds(60));
  auto stub = cluster.GatewayStub();

  {  // A malformed spec.
    v1::SubmitJobRequest request;
    request.mutable_spec()->set_system_xml("<System/>");
    v1::SubmitJobResponse response;
    grpc::ClientContext context;
    const grpc::Status status = stub->SubmitJob(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), HasSubstr("coordinates"));
  }
  {  // An unknown job.
    const absl::StatusOr<v1::Job> job = GetJob(cluster, "j000000000000");
    EXPECT_EQ(job.status().code(), absl::StatusCode::kNotFound);
  }
  {  // A System XML past the size limit (64 MiB by default).
    v1::SubmitJobRequest request;
    request.mutable_spec()->set_system_xml(std::string(65 << 20, ' '));
    v1::SubmitJobResponse response;
    grpc::ClientContext context;
    const grpc::Status status = stub->SubmitJob(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
    EXPECT_THAT(status.error_message(), HasSubstr("max_message_bytes"));
  }
  {  // Watching a cancelled job: its final snapshot, then OK.
    const std::string cancelled =
        cluster.SubmitJob(WriteHarmonicJob(cluster.dir(), "short", 2, 10, 1000));
    EXPECT_EQ(cluster.Ctl("cancel " + cancelled).first, 0);
    Watcher watcher(cluster, cancelled);
    watcher.Join();
    EXPECT_TRUE(watcher.status().ok()) << watcher.status().error_message();
    EXPECT_EQ(watcher.last_snapshot().state(), v1::CANCELLED);
    const auto [code, output] = cluster.Ctl("watch " + cancelled);
    EXPECT_EQ(code, 3) << output;
  }
  // The running job went on through all of it.
  const int64_t before = GetJob(cluster, running)->rounds_completed();
  const v1::Job later = WaitFor(
      cluster, running,
      [&](const v1::Job& j) { return j.rounds_completed() > before; },
      "still progressing", absl::Seconds(60));
  EXPECT_EQ(later.state(), v1::RUNNING);
  EXPECT_EQ(cluster.Ctl("cancel " + running).first, 0);
}

}  // namespace
}  // namespace replex::testing
