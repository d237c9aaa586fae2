// The coordinator over real gRPC: an in-process server on port 0 with a
// worker that dials in like replica-worker does, and the replex-coordinator
// binary itself (port file, SIGTERM).
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "coordinator/coordinator_server.h"
#include "coordinator/testing/fake_worker.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "lib/service/server.h"
#include "lib/store/in_memory_journal.h"
#include "tests/process.h"

namespace replex::coordinator {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;

// A worker over gRPC, answering as FakeWorker does; everything it writes is
// written from its reading thread, as gRPC wants one writer at a time.
class GrpcWorker {
 public:
  GrpcWorker(const std::shared_ptr<grpc::Channel>& channel,
             const std::string& name, int slots, int max_replicas)
      : stub_(v1::Coordinator::NewStub(channel)),
        stream_(stub_->Session(&context_)) {
    v1::WorkerMessage hello;
    v1::Register& body = *hello.mutable_register_();
    body.set_worker_name(name);
    body.set_slots(slots);
    body.set_max_replicas(max_replicas);
    body.set_platform("CPU");
    stream_->Write(hello);
    thread_ = std::thread([this] { Serve(); });
  }
  ~GrpcWorker() {
    context_.TryCancel();
    thread_.join();
  }

  // Says Goodbye, closes its side and returns how the server ended it.
  grpc::Status Leave() {
    v1::WorkerMessage goodbye;
    goodbye.mutable_goodbye()->set_reason("test");
    {
      absl::MutexLock lock(&mu_);
      stream_->Write(goodbye);
      stream_->WritesDone();
    }
    thread_.join();
    thread_ = std::thread([] {});
    return stream_->Finish();
  }

  std::string worker_id() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](std::string* id) { return !id->empty(); }, &worker_id_));
    return worker_id_;
  }

 private:
  void Serve() {
    v1::CoordinatorMessage in;
    while (stream_->Read(&in)) {
      absl::MutexLock lock(&mu_);
      if (in.has_welcome()) worker_id_ = in.welcome().worker_id();
      for (const v1::SegmentOrder& order : in.segment_orders().orders()) {
        stream_->Write(FakeSegmentDone(order));
      }
    }
  }

  std::unique_ptr<v1::Coordinator::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<
      grpc::ClientReaderWriter<v1::WorkerMessage, v1::CoordinatorMessage>>
      stream_;
  absl::Mutex mu_;  // one writer at a time
  std::string worker_id_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

class CoordinatorServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CoordinatorServerOptions options;
    options.journal = &journal_;
    options.job_id_seed = 1;
    absl::StatusOr<std::unique_ptr<CoordinatorServer>> server =
        CoordinatorServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    jobs_stub_ = v1::JobService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                            grpc::InsecureChannelCredentials()));
    channel_ =
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->worker_port()),
                            grpc::InsecureChannelCredentials());
  }
  void TearDown() override { server_->Shutdown(absl::Now()); }

  // Submits `spec` over gRPC; its job id.
  std::string SubmitOverGrpc(const v1::JobSpec& spec) {
    grpc::ClientContext context;
    v1::SubmitJobRequest submit;
    *submit.mutable_spec() = spec;
    v1::SubmitJobResponse submitted;
    const grpc::Status status =
        jobs_stub_->SubmitJob(&context, submit, &submitted);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return submitted.job_id();
  }

  // Watches a job over gRPC to its end; `after_first` runs once the first
  // event (the snapshot) is in, i.e. once the watch is registered.
  std::vector<v1::JobEvent> Watch(
      const std::string& id, grpc::Status* end,
      const std::function<void()>& after_first = [] {}, int batch_ms = 0) {
    grpc::ClientContext context;
    v1::WatchJobRequest request;
    request.set_job_id(id);
    request.set_batch_ms(batch_ms);
    auto reader = jobs_stub_->WatchJob(&context, request);
    std::vector<v1::JobEvent> events;
    v1::JobEvent event;
    while (reader->Read(&event)) {
      events.push_back(event);
      if (events.size() == 1) after_first();
    }
    *end = reader->Finish();
    return events;
  }

  store::InMemoryJournal journal_;
  std::unique_ptr<CoordinatorServer> server_;
  std::shared_ptr<grpc::Channel> channel_;  // the workers' port
  std::unique_ptr<v1::JobService::Stub> jobs_stub_;
};

TEST_F(CoordinatorServiceTest, AJobRunsOnAWorkerThatDialedIn) {
  const std::string id = SubmitOverGrpc(TestSpec(4, 5, /*hamiltonian=*/true));

  // No worker yet: the job waits until one dials in.
  std::unique_ptr<GrpcWorker> worker;
  grpc::Status end;
  const std::vector<v1::JobEvent> events = Watch(id, &end, [&] {
    worker = std::make_unique<GrpcWorker>(channel_, "w", 2, 8);
  });
  EXPECT_TRUE(end.ok()) << end.error_message();
  EXPECT_THAT(DescribeEvents(events),
              ElementsAre("QUEUED", "RUNNING", "round 0", "round 1", "round 2",
                          "round 3", "round 4", "SUCCEEDED"));
  EXPECT_THAT(worker->worker_id(), HasSubstr("w#"));

  grpc::ClientContext list_context;
  v1::ListJobsRequest list;
  list.add_states(v1::SUCCEEDED);
  v1::ListJobsResponse listed;
  ASSERT_TRUE(jobs_stub_->ListJobs(&list_context, list, &listed).ok());
  ASSERT_THAT(listed.jobs(), SizeIs(1));
  EXPECT_EQ(listed.jobs(0).rounds_completed(), 5);

  // Cancelling an ended job returns it as it is.
  grpc::ClientContext cancel_context;
  v1::CancelJobRequest cancel;
  cancel.set_job_id(id);
  v1::Job cancelled;
  ASSERT_TRUE(jobs_stub_->CancelJob(&cancel_context, cancel, &cancelled).ok());
  EXPECT_EQ(cancelled.state(), v1::SUCCEEDED);

  // A drained worker that closes its side ends its session with OK.
  EXPECT_TRUE(worker->Leave().ok());
}

// With batch_ms the watch hears of every round, once and in order, in
// messages at least batch_ms apart, except that the job's end sends what has
// gathered at once: at most elapsed / batch_ms + 2 of them, where a message
// per round would be 300.
TEST_F(CoordinatorServiceTest, ABatchedWatchHearsEveryRoundInPacedMessages) {
  constexpr int kRounds = 300;
  constexpr int kBatchMs = 1000;
  const std::string id = SubmitOverGrpc(TestSpec(4, kRounds));
  std::unique_ptr<GrpcWorker> worker;
  grpc::Status end;
  const absl::Time start = absl::Now();
  const std::vector<v1::JobEvent> events = Watch(
      id, &end,
      [&] { worker = std::make_unique<GrpcWorker>(channel_, "w", 2, 8); },
      kBatchMs);
  const absl::Duration elapsed = absl::Now() - start;
  EXPECT_TRUE(end.ok()) << end.error_message();
  int64_t next = 0, batches = 0;
  for (const v1::JobEvent& event : events) {
    EXPECT_FALSE(event.has_round());  // batched, never one by one
    batches += event.has_rounds();
    for (const v1::RoundEvent& round : event.rounds().rounds()) {
      EXPECT_EQ(round.round(), next++);
    }
  }
  EXPECT_EQ(next, kRounds);
  EXPECT_LE(batches, elapsed / absl::Milliseconds(kBatchMs) + 2)
      << "in " << elapsed;
  // Snapshots are not held back: QUEUED, RUNNING and SUCCEEDED.
  EXPECT_EQ(events.size() - batches, 3u);
  EXPECT_EQ(events.back().snapshot().state(), v1::SUCCEEDED);

  for (int batch_ms : {-1, 10001}) {
    Watch(
        id, &end, [] {}, batch_ms);
    EXPECT_EQ(end.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(end.error_message(), HasSubstr("batch_ms"));
  }
}

TEST_F(CoordinatorServiceTest, ErrorsArriveAsTheirGrpcCodes) {
  grpc::ClientContext get_context;
  v1::GetJobRequest get;
  get.set_job_id("jmissing");
  v1::Job job;
  const grpc::Status missing = jobs_stub_->GetJob(&get_context, get, &job);
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(missing.error_message(),
            "no job 'jmissing': list jobs with `replexctl list`");

  grpc::Status end;
  Watch("jmissing", &end);
  EXPECT_EQ(end.error_code(), grpc::StatusCode::NOT_FOUND);

  grpc::ClientContext submit_context;
  v1::SubmitJobRequest submit;
  v1::SubmitJobResponse submitted;
  const grpc::Status invalid =
      jobs_stub_->SubmitJob(&submit_context, submit, &submitted);
  EXPECT_EQ(invalid.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(invalid.error_message(), HasSubstr("system"));
}

// A watch holds no thread: it must still end when its client goes, and
// when the coordinator shuts down, well before the grace period that would
// otherwise cut it off. The job stays queued (no worker), so each watch is
// idle after its first snapshot, with no write in flight whose completion
// would wake it.
TEST_F(CoordinatorServiceTest, WatchesEndWhenTheirClientGoesOrTheServerStops) {
  const std::string id = *server_->jobs().Submit(TestSpec(2, 10));
  v1::WatchJobRequest request;
  request.set_job_id(id);
  v1::JobEvent event;
  grpc::ClientContext leaving_context;
  auto leaving = jobs_stub_->WatchJob(&leaving_context, request);
  ASSERT_TRUE(leaving->Read(&event));
  grpc::ClientContext staying_context;
  auto staying = jobs_stub_->WatchJob(&staying_context, request);
  ASSERT_TRUE(staying->Read(&event));
  EXPECT_EQ(event.snapshot().state(), v1::QUEUED);

  leaving_context.TryCancel();
  EXPECT_EQ(leaving->Finish().error_code(), grpc::StatusCode::CANCELLED);
  const absl::Time start = absl::Now();
  server_->Shutdown(start + absl::Seconds(60));
  EXPECT_LT(absl::Now() - start, absl::Seconds(20));
  while (staying->Read(&event)) {
  }
  const grpc::Status end = staying->Finish();
  EXPECT_EQ(end.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(end.error_message(), HasSubstr("shutting down"));
}

TEST_F(CoordinatorServiceTest, ASessionMustStartWithRegister) {
  auto stub = v1::Coordinator::NewStub(channel_);
  grpc::ClientContext context;
  auto stream = stub->Session(&context);
  v1::WorkerMessage heartbeat;
  heartbeat.mutable_heartbeat();
  stream->Write(heartbeat);
  stream->WritesDone();
  const grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("Register"));
}

TEST_F(CoordinatorServiceTest, AJobWhoseWorkerVanishesGoesOnOnANewOne) {
  auto worker = std::make_unique<GrpcWorker>(channel_, "w", 1, 8);
  worker->worker_id();  // registered
  // Long enough to be running when the worker vanishes.
  const std::string id = *server_->jobs().Submit(TestSpec(2, 100000000));
  absl::StatusOr<std::shared_ptr<JobWatch>> watch = server_->jobs().Watch(id);
  std::shared_ptr<const v1::JobEvent> event;
  while ((*watch)->Take(&event, absl::Seconds(30)) == JobWatch::Next::kEvent &&
         !event->has_round()) {
  }
  worker.reset();  // cancels its stream
  // The job rolls back to round 0 and waits for room...
  while (
      (*watch)->Take(&event, absl::Seconds(30)) == JobWatch::Next::kEvent &&
      !(event->has_snapshot() && event->snapshot().rounds_completed() == 0)) {
  }
  EXPECT_EQ(server_->jobs().Get(id)->state(), v1::RUNNING);
  // ...which a new worker brings.
  GrpcWorker replacement(channel_, "w2", 1, 8);
  while ((*watch)->Take(&event, absl::Seconds(30)) == JobWatch::Next::kEvent &&
         !event->has_round()) {
  }
  EXPECT_EQ(event->round().round(), 0);
  EXPECT_EQ(server_->jobs().Cancel(id)->state(), v1::CANCELLED);
}

// The binary: binds port 0, writes the port file, serves, and exits 0 on
// SIGTERM.
TEST(CoordinatorBinaryTest, ServesOnItsPortFileAndStopsOnSigterm) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() /
      absl::StrCat("coordinator_service_test.", getpid());
  std::filesystem::create_directories(dir);
  const std::string port_file = dir / "port";
  absl::StatusOr<std::unique_ptr<testing::Process>> coordinator =
      testing::Process::Start(
          {REPLEX_COORDINATOR_BIN, "--listen=127.0.0.1:0",
           "--worker_listen=127.0.0.1:0", "--metrics_listen=127.0.0.1:0",
           "--port_file=" + port_file, "--shutdown_grace=1s",
           "--journal=" + (dir / "journal.sqlite").string(),
           "--checkpoint_dir=" + (dir / "checkpoints").string()},
          dir / "coordinator.log");
  ASSERT_TRUE(coordinator.ok()) << coordinator.status();
  absl::StatusOr<std::string> port =
      testing::WaitForFile(port_file, absl::Seconds(20));
  ASSERT_TRUE(port.ok()) << port.status() << "\n" << (*coordinator)->Log();
  {
    auto stub = v1::JobService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", *port), grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    v1::ListJobsResponse response;
    EXPECT_TRUE(stub->ListJobs(&context, {}, &response).ok());
  }  // An open connection would hold shutdown until --shutdown_grace ends.
  (*coordinator)->Signal(SIGTERM);
  EXPECT_EQ((*coordinator)->Wait(absl::Seconds(20)), 0)
      << (*coordinator)->Log();
  EXPECT_THAT((*coordinator)->Log(), HasSubstr("shutting down"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace replex::coordinator
