// Session against a scripted coordinator (FakeCoordinatorClient): the real
// ReplicaHost and SlotPool on the Reference platform, no sockets. Every wait
// is for a message or state change, never for a length of time.
#include "replica-worker/session.h"

#include <memory>
#include <thread>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/threads/slot_pool.h"
#include "replica-worker/testing/test_util.h"

namespace replex::worker {
namespace {

using testing::Count;
using testing::ExampleSpec;
using testing::FakeCoordinatorClient;
using testing::FakeStreamPeer;
using testing::MakeLoadJob;
using testing::MakeLoadReplica;
using testing::MakeOrder;
using testing::MakeRelease;
using testing::Welcome;
using testing::Wrap;

constexpr char kJob[] = "job-1";
constexpr int kSteps = 50;

v1::CoordinatorMessage GoodbyeAck() {
  v1::CoordinatorMessage message;
  message.mutable_goodbye_ack();
  return message;
}

FakeStreamPeer::Predicate Has(v1::WorkerMessage::MessageCase kind, int n = 1) {
  return [kind, n](const std::vector<v1::WorkerMessage>& sent) {
    return Count(sent, kind) >= n;
  };
}

// A session and its host running on a thread of their own.
class SessionTest : public ::testing::Test {
 protected:
  void Start(SessionOptions options, int failing_connects = 0) {
    options.registration.set_worker_name("test-worker");
    options.registration.set_slots(2);
    options.registration.set_max_replicas(8);
    options.registration.set_platform("Reference");
    options.registration.set_hostname("test-host");
    options.initial_backoff = absl::Milliseconds(1);
    options.max_backoff = absl::Milliseconds(2);
    client_ = std::make_unique<FakeCoordinatorClient>(failing_connects);
    session_ = std::make_unique<Session>(client_.get(), options);
    HostOptions host_options;
    host_options.slots = 2;
    host_ = std::make_unique<ReplicaHost>(
        host_options, std::make_unique<threads::SlotPool>(2), session_.get());
    runner_ = std::thread([this] { session_->Run(host_.get()); });
  }

  // Waits for Run to return.
  void Join() { runner_.join(); }

  // Drains a session a test left running, playing a coordinator that
  // acknowledges the Goodbye and ends the call when the worker closes its
  // side.
  void TearDown() override {
    if (!runner_.joinable()) return;
    session_->Drain();
    if (std::shared_ptr<FakeStreamPeer> peer = client_->latest()) {
      if (peer->AwaitSent(Has(v1::WorkerMessage::kGoodbye))) {
        peer->Push(GoodbyeAck());
      }
      peer->AwaitClosed();
      peer->End(absl::OkStatus());
    }
    Join();
  }

  // Hosts replica 0 of the harmonic-oscillator job on `peer`.
  void HostReplica(FakeStreamPeer& peer, int64_t epoch) {
    peer.Push(Wrap(MakeLoadJob(
        kJob, ExampleSpec("examples/harmonic-oscillator/job.yaml"))));
    peer.Push(Wrap(MakeLoadReplica(kJob, 0, epoch, 1, 5)));
  }

  std::unique_ptr<FakeCoordinatorClient> client_;
  std::unique_ptr<Session> session_;
  std::unique_ptr<ReplicaHost> host_;
  std::thread runner_;
};

TEST_F(SessionTest, RegistersThenRunsOrdersAndDrains) {
  Start(SessionOptions());
  std::shared_ptr<FakeStreamPeer> peer = client_->AwaitStream(0);
  ASSERT_NE(peer, nullptr);
  ASSERT_TRUE(peer->AwaitSent(Has(v1::WorkerMessage::kRegister)));
  const v1::WorkerMessage first = peer->sent().front();
  ASSERT_TRUE(first.has_register_());
  EXPECT_EQ(first.register_().worker_name(), "test-worker");
  EXPECT_EQ(first.register_().slots(), 2);
  EXPECT_EQ(first.register_().platform(), "Reference");
  EXPECT_EQ(first.register_().hostname(), "test-host");

  peer->Push(Welcome(0));
  HostReplica(*peer, 4);
  const v1::SegmentOrder order = MakeOrder(kJob, 0, 0, 4, 1, kSteps, 9);
  peer->Push(Wrap(order));
  ASSERT_TRUE(peer->AwaitSent(Has(v1::WorkerMessage::kSegmentDone)));

  // Bit for bit what the same segment gives straight through the engine.
  EXPECT_EQ(
      peer->sent().back().segment_done().potential_kj_mol(),
      testing::DirectRun(ExampleSpec("examples/harmonic-oscillator/job.yaml"))
          .FirstSegment(1, 5, order)
          .potential_kj_mol);

  // SIGTERM: Goodbye; the replica keeps serving orders until the
  // coordinator takes it back.
  session_->Drain();
  ASSERT_TRUE(peer->AwaitSent(Has(v1::WorkerMessage::kGoodbye)));
  peer->Push(GoodbyeAck());
  peer->Push(Wrap(MakeOrder(kJob, 0, 1, 4, 1, kSteps, 10)));
  ASSERT_TRUE(peer->AwaitSent(Has(v1::WorkerMessage::kSegmentDone, 2)));
  EXPECT_FALSE(peer->send_closed());  // still holds a replica
  peer->Push(Wrap(MakeRelease(kJob, 0, 4, /*want_state=*/true)));
  ASSERT_TRUE(peer->AwaitSent(Has(v1::WorkerMessage::kReplicaState)));
  ASSERT_TRUE(peer->AwaitClosed());
  EXPECT_TRUE(peer->send_closed());
  peer->End(absl::OkStatus());
  Join();
  EXPECT_FALSE(peer->cancelled());
  EXPECT_TRUE(host_->idle());
}

TEST_F(SessionTest, ReconnectsAfterFailuresAndDropsWhatItHosted) {
  Start(SessionOptions(), /*failing_connects=*/2);
  std::shared_ptr<FakeStreamPeer> first = client_->AwaitStream(0);
  ASSERT_NE(first, nullptr);
  first->Push(Welcome(0));
  HostReplica(*first, 1);
  first->Push(Wrap(MakeOrder(kJob, 0, 0, 1, 1, kSteps, 9)));
  ASSERT_TRUE(first->AwaitSent(Has(v1::WorkerMessage::kSegmentDone)));
  EXPECT_EQ(host_->hosted_replicas(), 1);

  first->End(absl::UnavailableError("coordinator restarted"));
  std::shared_ptr<FakeStreamPeer> second = client_->AwaitStream(1);
  ASSERT_NE(second, nullptr);
  ASSERT_TRUE(second->AwaitSent(Has(v1::WorkerMessage::kRegister)));
  EXPECT_TRUE(second->sent().front().has_register_());
  // Dropped before reconnecting: the old epoch's orders go nowhere.
  EXPECT_EQ(host_->hosted_replicas(), 0);
  EXPECT_EQ(host_->hosted_jobs(), 0);
  second->Push(Wrap(MakeOrder(kJob, 0, 1, 1, 1, kSteps, 9)));

  session_->Drain();  // idle: Goodbye, and close once it is acknowledged
  ASSERT_TRUE(second->AwaitSent(Has(v1::WorkerMessage::kGoodbye)));
  second->Push(GoodbyeAck());
  ASSERT_TRUE(second->AwaitClosed());
  second->End(absl::OkStatus());
  Join();
  EXPECT_EQ(Count(second->sent(), v1::WorkerMessage::kSegmentDone), 0);
  EXPECT_EQ(Count(second->sent(), v1::WorkerMessage::kGoodbye), 1);
}

TEST_F(SessionTest, HeartbeatsFollowTheWelcomeInterval) {
  Start(SessionOptions());
  std::shared_ptr<FakeStreamPeer> peer = client_->AwaitStream(0);
  ASSERT_NE(peer, nullptr);
  peer->Push(Welcome(1));
  ASSERT_TRUE(peer->AwaitSent(Has(v1::WorkerMessage::kHeartbeat, 3)));
  for (const v1::WorkerMessage& message : peer->sent()) {
    if (message.has_heartbeat()) {
      EXPECT_GT(message.heartbeat().sent_unix_ms(), 0);
    }
  }
}

TEST_F(SessionTest, DrainGraceEndsWhileReplicasAreHosted) {
  SessionOptions options;
  options.drain_grace = absl::ZeroDuration();
  // This coordinator never ends the call: the worker cancels it once the
  // close timeout has passed. The timeout also bounds the writer's flush of
  // the Goodbye and the half-close, so it must not be zero (with zero the
  // cancel races the writer); half a second is far more than writing two
  // messages to the fake takes, even under a sanitizer.
  options.close_timeout = absl::Milliseconds(500);
  Start(options);
  std::shared_ptr<FakeStreamPeer> peer = client_->AwaitStream(0);
  ASSERT_NE(peer, nullptr);
  HostReplica(*peer, 1);
  peer->Push(Wrap(MakeOrder(kJob, 0, 0, 1, 1, kSteps, 9)));
  ASSERT_TRUE(peer->AwaitSent(Has(v1::WorkerMessage::kSegmentDone)));
  session_->Drain();
  Join();
  EXPECT_EQ(Count(peer->sent(), v1::WorkerMessage::kGoodbye), 1);
  EXPECT_TRUE(peer->send_closed());
  EXPECT_TRUE(peer->cancelled());
  EXPECT_EQ(host_->hosted_replicas(), 0);
}

// An idle worker that drains must not leave before the coordinator has seen
// its Goodbye: a replica placed here just before is still on its way.
TEST_F(SessionTest, AnIdleDrainWaitsForTheAcknowledgementAndWhatPrecedesIt) {
  Start(SessionOptions());
  std::shared_ptr<FakeStreamPeer> peer = client_->AwaitStream(0);
  ASSERT_NE(peer, nullptr);
  peer->Push(Welcome(1));
  session_->Drain();
  ASSERT_TRUE(peer->AwaitSent(Has(v1::WorkerMessage::kGoodbye)));
  // Heartbeats go on (the supervisor keeps looping) while it stays open.
  const int heartbeats = Count(peer->sent(), v1::WorkerMessage::kHeartbeat);
  ASSERT_TRUE(
      peer->AwaitSent(Has(v1::WorkerMessage::kHeartbeat, heartbeats + 3)));
  EXPECT_FALSE(peer->send_closed());
  // Placed before the coordinator saw the Goodbye: served, then released.
  HostReplica(*peer, 1);
  peer->Push(Wrap(MakeOrder(kJob, 0, 0, 1, 1, kSteps, 9)));
  peer->Push(GoodbyeAck());
  ASSERT_TRUE(peer->AwaitSent(Has(v1::WorkerMessage::kSegmentDone)));
  EXPECT_FALSE(peer->send_closed());
  peer->Push(Wrap(MakeRelease(kJob, 0, 1, /*want_state=*/true)));
  ASSERT_TRUE(peer->AwaitClosed());
  peer->End(absl::OkStatus());
  Join();
  EXPECT_EQ(Count(peer->sent(), v1::WorkerMessage::kReplicaState), 1);
}

// A slot thread that finished a segment must not wait for the transport:
// Send queues, the writer writes in order, and what piled up behind a slow
// write goes corked but for its last message.
TEST_F(SessionTest, SendsDoNotWaitForTheTransportAndKeepTheirOrder) {
  Start(SessionOptions());
  std::shared_ptr<FakeStreamPeer> peer = client_->AwaitStream(0);
  ASSERT_NE(peer, nullptr);
  ASSERT_TRUE(peer->AwaitSent(Has(v1::WorkerMessage::kRegister)));
  auto heartbeat = [](int64_t ms) {
    v1::WorkerMessage message;
    message.mutable_heartbeat()->set_sent_unix_ms(ms);
    return message;
  };
  peer->HoldSends(true);
  session_->Send(heartbeat(1));
  ASSERT_TRUE(peer->AwaitHeldSend());  // the writer is stuck on it
  // On a thread of its own, so a Send that waits for the held transport
  // fails the test instead of hanging it.
  absl::Notification sent;
  std::thread sender([&] {
    for (int64_t ms = 2; ms <= 3; ++ms) session_->Send(heartbeat(ms));
    sent.Notify();
  });
  const bool returned = sent.WaitForNotificationWithTimeout(absl::Minutes(1));
  peer->HoldSends(false);
  sender.join();
  ASSERT_TRUE(returned) << "Send waited for a held transport";
  ASSERT_TRUE(peer->AwaitSent(Has(v1::WorkerMessage::kHeartbeat, 3)));

  const std::vector<v1::WorkerMessage> messages = peer->sent();
  const std::vector<bool> more_follow = peer->more_follow();
  ASSERT_EQ(messages.size(), 4u);
  EXPECT_FALSE(more_follow[0]);  // Register goes alone
  for (int i = 1; i <= 3; ++i) {
    EXPECT_EQ(messages[i].heartbeat().sent_unix_ms(), i);
  }
  // The first went alone, as soon as it was queued; what was queued while
  // it waited in the transport left as one batch, corked but for its last.
  EXPECT_EQ(more_follow, std::vector<bool>({false, false, true, false}));
}

TEST_F(SessionTest, DrainWhileDisconnectedReturns) {
  Start(SessionOptions(), /*failing_connects=*/1 << 30);
  client_->AwaitAttempts(3);
  session_->Drain();
  Join();
}

}  // namespace
}  // namespace replex::worker
