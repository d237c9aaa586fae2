// The worker over real gRPC: a scripted Coordinator service on a loopback
// port chosen by the OS, the real GrpcCoordinatorClient, Session, ReplicaHost
// and SlotPool. Checks what the fakes cannot: channel limits (a LoadJob above
// gRPC's 4 MiB default), half-close and the call's end.
#include "replica-worker/grpc_coordinator_client.h"

#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "lib/service/server.h"
#include "lib/threads/slot_pool.h"
#include "replex/v1/worker.grpc.pb.h"
#include "replica-worker/replica_host.h"
#include "replica-worker/session.h"
#include "replica-worker/testing/test_util.h"

namespace replex::worker {
namespace {

using Stream =
    grpc::ServerReaderWriter<v1::CoordinatorMessage, v1::WorkerMessage>;

// Reads until a message of `kind` arrives (skipping heartbeats and the
// like); false if the stream ends first.
bool ReadUntil(Stream& stream, v1::WorkerMessage::MessageCase kind,
               v1::WorkerMessage* message) {
  while (stream.Read(message)) {
    if (message->message_case() == kind) return true;
  }
  return false;
}

// One session's conversation, start to finish: register, host a replica,
// run a segment, and after the worker's Goodbye take the replica back.
class ScriptedCoordinator : public v1::Coordinator::Service {
 public:
  grpc::Status Session(grpc::ServerContext*, Stream* stream) override {
    v1::WorkerMessage in;
    if (!stream->Read(&in) || !in.has_register_()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "Register must come first");
    }
    Record(in);
    v1::JobSpec spec =
        testing::ExampleSpec("examples/harmonic-oscillator/job.yaml");
    // Larger than gRPC's default 4 MiB limit.
    (*spec.mutable_labels())["padding"] = std::string(6 << 20, 'x');
    stream->Write(testing::Welcome(50));
    stream->Write(testing::Wrap(testing::MakeLoadJob("job", spec)));
    stream->Write(testing::Wrap(testing::MakeLoadReplica("job", 0, 1, 2, 5)));
    stream->Write(testing::Wrap(testing::MakeOrder("job", 0, 0, 1, 2, 50, 9)));
    if (!ReadUntil(*stream, v1::WorkerMessage::kSegmentDone, &in)) {
      return grpc::Status(grpc::StatusCode::ABORTED, "no SegmentDone");
    }
    Record(in);
    segment_done_.Notify();
    if (!ReadUntil(*stream, v1::WorkerMessage::kGoodbye, &in)) {
      return grpc::Status(grpc::StatusCode::ABORTED, "no Goodbye");
    }
    Record(in);
    v1::CoordinatorMessage ack;
    ack.mutable_goodbye_ack();
    stream->Write(ack);
    stream->Write(testing::Wrap(testing::MakeRelease("job", 0, 1, true)));
    if (!ReadUntil(*stream, v1::WorkerMessage::kReplicaState, &in)) {
      return grpc::Status(grpc::StatusCode::ABORTED, "no state report");
    }
    Record(in);
    // The worker half-closes once it holds nothing and what it sent is
    // written: the state report comes before the end of its side.
    while (stream->Read(&in)) {
    }
    return grpc::Status::OK;
  }

  void AwaitSegmentDone() { segment_done_.WaitForNotification(); }

  std::vector<v1::WorkerMessage> received() {
    absl::MutexLock lock(&mu_);
    return received_;
  }

 private:
  void Record(const v1::WorkerMessage& message) {
    absl::MutexLock lock(&mu_);
    received_.push_back(message);
  }

  absl::Notification segment_done_;
  absl::Mutex mu_;
  std::vector<v1::WorkerMessage> received_ ABSL_GUARDED_BY(mu_);
};

TEST(GrpcCoordinatorClientTest, FullSessionOverLoopback) {
  ScriptedCoordinator coordinator;
  auto server = service::StartServer({}, {&coordinator});
  ASSERT_TRUE(server.ok()) << server.status();

  ChannelOptions channel;
  channel.target = absl::StrCat("127.0.0.1:", server->port);
  GrpcCoordinatorClient client(channel);
  SessionOptions options;
  options.registration.set_worker_name("loopback-worker");
  Session session(&client, options);
  ReplicaHost host(HostOptions(), std::make_unique<threads::SlotPool>(1),
                   &session);
  std::thread runner([&] { session.Run(&host); });

  coordinator.AwaitSegmentDone();
  session.Drain();
  runner.join();  // returns once the coordinator ended the call
  server->server->Shutdown();

  const std::vector<v1::WorkerMessage> received = coordinator.received();
  ASSERT_EQ(received.size(), 4u);
  EXPECT_EQ(received[0].register_().worker_name(), "loopback-worker");
  EXPECT_EQ(received[1].segment_done().round(), 0);
  EXPECT_TRUE(received[2].has_goodbye());
  EXPECT_EQ(received[3].replica_state().rung(), 2);
  EXPECT_FALSE(received[3].replica_state().state().empty());
  EXPECT_TRUE(host.idle());
}

TEST(GrpcCoordinatorClientTest, ConnectFailsWhenNothingListens) {
  // Bind and release a port so nothing listens on it.
  int port;
  {
    v1::Coordinator::Service unused;
    auto server = service::StartServer({}, {&unused});
    ASSERT_TRUE(server.ok());
    port = server->port;
    server->server->Shutdown();
  }
  ChannelOptions channel;
  channel.target = absl::StrCat("127.0.0.1:", port);
  GrpcCoordinatorClient client(channel);
  auto stream = client.Connect(absl::Milliseconds(200));
  EXPECT_EQ(stream.status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace replex::worker
