// ReplicaHost on the Reference platform with the harmonic-oscillator
// examples, driven message by message through a ManualExecutor: what is
// queued and what has run is decided by the test, never by timing.
#include "replica-worker/replica_host.h"

#include <chrono>
#include <future>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/spec/spec.h"
#include "lib/wire/wire.h"
#include "replica-worker/testing/test_util.h"

namespace replex::worker {
namespace {

using testing::Count;
using testing::DirectRun;
using testing::ExampleSpec;
using ::testing::HasSubstr;
using testing::MakeLoadJob;
using testing::MakeLoadReplica;
using testing::MakeOrder;
using testing::MakeRelease;
using testing::MakeUnload;

constexpr char kTremd[] = "examples/harmonic-oscillator/job.yaml";
constexpr char kHremd[] = "examples/harmonic-oscillator/hremd.yaml";
constexpr char kJob[] = "job-1";
constexpr int kSteps = 50;

class ReplicaHostTest : public ::testing::Test {
 protected:
  explicit ReplicaHostTest(HostOptions options = HostOptions()) {
    auto executor = std::make_unique<testing::ManualExecutor>();
    executor_ = executor.get();
    host_ =
        std::make_unique<ReplicaHost>(options, std::move(executor), &output_);
  }

  // Loads `spec` as kJob.
  void LoadJob(const v1::JobSpec& spec) {
    host_->LoadJob(MakeLoadJob(kJob, spec));
  }

  std::vector<v1::WorkerMessage> Run() {
    executor_->RunAll();
    return output_.messages();
  }

  // Loads the T-REMD job and replicas 0..n-1 (epoch 1, replica i at rung i).
  void LoadReplicas(int n) {
    LoadJob(ExampleSpec(kTremd));
    for (int i = 0; i < n; ++i) {
      host_->LoadReplica(MakeLoadReplica(kJob, i, 1, i, 5));
    }
  }

  // `message` is a SegmentDones of `replica`'s result alone.
  static void ExpectResultOf(const v1::WorkerMessage& message, int replica) {
    ASSERT_TRUE(message.has_segment_dones()) << message.DebugString();
    ASSERT_EQ(message.segment_dones().done_size(), 1);
    EXPECT_EQ(message.segment_dones().done(0).replica(), replica);
  }

  // Round `round` of replicas 0..n-1 (epoch 1, replica i at rung i), as a
  // synchronous round's orders come: batch_result set.
  static v1::SegmentOrders RoundOrders(int n, int64_t round) {
    v1::SegmentOrders orders;
    for (int i = 0; i < n; ++i) {
      v1::SegmentOrder& order = *orders.add_orders();
      order = MakeOrder(kJob, i, round, 1, i, kSteps, 9 + i);
      order.set_batch_result(true);
    }
    return orders;
  }

  testing::RecordingOutput output_;
  testing::ManualExecutor* executor_;
  std::unique_ptr<ReplicaHost> host_;
};

// Both ladders: temperatures only, and a Hamiltonian parameter (K) whose
// reduced potentials need one energy evaluation per rung.
class SegmentTest : public ReplicaHostTest,
                    public ::testing::WithParamInterface<const char*> {};

TEST_P(SegmentTest, SegmentDoneMatchesExecuteOrderBitForBit) {
  const v1::JobSpec spec = ExampleSpec(GetParam());
  LoadJob(spec);
  host_->LoadReplica(MakeLoadReplica(kJob, 3, /*epoch=*/7, /*rung=*/2, 11));
  const std::vector<v1::SegmentOrder> orders = {
      MakeOrder(kJob, 3, 0, 7, 2, kSteps, 101, {1, 2}),
      MakeOrder(kJob, 3, 1, 7, 1, kSteps, 102, {0, 1, 3}),
  };
  for (const v1::SegmentOrder& order : orders) host_->Order(order);
  const std::vector<v1::WorkerMessage> sent = Run();

  DirectRun direct(spec);
  std::unique_ptr<engine::Replica> replica = direct.Create(2, 11);
  ASSERT_EQ(sent.size(), orders.size());
  for (size_t i = 0; i < orders.size(); ++i) {
    const runner::SegmentResult expected =
        DirectRun::Execute(*replica, orders[i]);
    ASSERT_TRUE(sent[i].has_segment_done()) << sent[i].DebugString();
    const v1::SegmentDone& done = sent[i].segment_done();
    EXPECT_EQ(done.job_id(), kJob);
    EXPECT_EQ(done.replica(), 3);
    EXPECT_EQ(done.round(), orders[i].round());
    EXPECT_EQ(done.epoch(), 7);
    EXPECT_EQ(done.potential_kj_mol(), expected.potential_kj_mol);
    EXPECT_THAT(done.reduced(), ::testing::ElementsAreArray(expected.reduced));
    EXPECT_GE(done.seconds(), 0);
  }
  EXPECT_EQ(host_->hosted_replicas(), 1);
}

INSTANTIATE_TEST_SUITE_P(Ladders, SegmentTest,
                         ::testing::Values(kTremd, kHremd));

// An adaptive ladder's version (LadderUpdate) is what an order naming it
// runs at and evaluates other rungs with: bit for bit what ExecuteOrder
// gives with that ladder, and not what the spec's ladder gives. An order
// naming a version never sent fails the segment (a replica fault: the
// coordinator rolls back and sends it again); an unusable version fails
// the job.
TEST_F(ReplicaHostTest, OrdersRunAtTheLadderVersionTheyName) {
  const v1::JobSpec spec = ExampleSpec(kHremd);
  LoadJob(spec);
  host_->LoadReplica(MakeLoadReplica(kJob, 3, /*epoch=*/7, /*rung=*/2, 11));
  std::vector<exchange::Rung> rungs = spec::BuildLadder(spec.ladder())->rungs();
  v1::CoordinatorMessage update;
  v1::LadderUpdate& body = *update.mutable_ladder_update();
  body.set_job_id(kJob);
  body.set_version(1);
  for (exchange::Rung& rung : rungs) {
    rung.parameters[0] *= 1.5;
    body.add_temperatures_k(rung.temperature_k);
    body.add_parameters(rung.parameters[0]);
  }
  host_->UpdateLadder(body);
  v1::SegmentOrder order = MakeOrder(kJob, 3, 0, 7, 2, kSteps, 101, {1, 2, 3});
  order.set_ladder_version(1);
  host_->Order(order);
  std::vector<v1::WorkerMessage> sent = Run();

  DirectRun direct(spec);
  runner::SegmentOrder expected_order = wire::FromProto(order);
  expected_order.ladder = std::make_shared<const exchange::Ladder>(
      *exchange::Ladder::Create({"K"}, rungs));
  std::unique_ptr<engine::Replica> replica = direct.Create(2, 11);
  const absl::StatusOr<runner::SegmentResult> expected =
      runner::ExecuteOrder(*replica, expected_order);
  ASSERT_TRUE(expected.ok()) << expected.status();
  ASSERT_EQ(sent.size(), 1u);
  ASSERT_TRUE(sent[0].has_segment_done()) << sent[0].DebugString();
  EXPECT_EQ(sent[0].segment_done().potential_kj_mol(),
            expected->potential_kj_mol);
  EXPECT_THAT(sent[0].segment_done().reduced(),
              ::testing::ElementsAreArray(expected->reduced));
  EXPECT_EQ(sent[0].segment_done().ladder_version(), 1);
  const runner::SegmentResult on_spec_ladder = direct.FirstSegment(
      2, 11, MakeOrder(kJob, 3, 0, 7, 2, kSteps, 101, {1, 2, 3}));
  EXPECT_NE(sent[0].segment_done().reduced(0), on_spec_ladder.reduced[0]);

  const size_t before = sent.size();
  order = MakeOrder(kJob, 3, 1, 7, 2, kSteps, 102, {1, 2, 3});
  order.set_ladder_version(2);  // never sent
  host_->Order(order);
  body.set_version(3);
  body.add_parameters(1);  // one value too many
  host_->UpdateLadder(body);
  order = MakeOrder(kJob, 3, 2, 7, 2, kSteps, 103, {1, 2, 3});
  order.set_ladder_version(3);
  host_->Order(order);
  sent = Run();
  sent.erase(sent.begin(), sent.begin() + before);
  ASSERT_EQ(sent.size(), 2u);
  ASSERT_TRUE(sent[0].has_segment_failed()) << sent[0].DebugString();
  EXPECT_FALSE(sent[0].segment_failed().invalid_input());
  EXPECT_THAT(sent[0].segment_failed().error(),
              HasSubstr("version 2 of job " + std::string(kJob) +
                        "'s adaptive ladder, which this worker was never "
                        "sent"));
  ASSERT_TRUE(sent[1].has_segment_failed()) << sent[1].DebugString();
  EXPECT_TRUE(sent[1].segment_failed().invalid_input());
  EXPECT_THAT(sent[1].segment_failed().error(),
              HasSubstr("version 3 of the adaptive ladder is unusable"));
}

// A coordinator of an earlier release sends an adaptive ladder's
// temperature and no version: running it at the spec's ladder would be
// wrong without a word, so the segment fails, saying what to upgrade.
TEST_F(ReplicaHostTest, AnOrderWithATemperatureButNoVersionFails) {
  LoadJob(ExampleSpec(kTremd));
  host_->LoadReplica(MakeLoadReplica(kJob, 0, 1, 0, 5));
  v1::SegmentOrder order = MakeOrder(kJob, 0, 0, 1, 0, kSteps, 9);
  order.set_temperature_k(305);
  host_->Order(order);
  const std::vector<v1::WorkerMessage> sent = Run();
  ASSERT_EQ(sent.size(), 1u);
  ASSERT_TRUE(sent[0].has_segment_failed()) << sent[0].DebugString();
  EXPECT_THAT(sent[0].segment_failed().error(),
              HasSubstr("upgrade the coordinator before its workers"));
}

// A synchronous round's orders (batch_result): the replicas' results are
// held until the host's last segment of the round ends, then leave in one
// SegmentDones, the same results as unbatched orders give.
TEST_F(ReplicaHostTest, ARoundsResultsLeaveTogetherAfterItsLastSegment) {
  const v1::JobSpec spec = ExampleSpec(kTremd);
  LoadJob(spec);
  for (int i = 0; i < 3; ++i) {
    host_->LoadReplica(MakeLoadReplica(kJob, i, 1, i, 5));
  }
  host_->Orders(RoundOrders(3, /*round=*/0));
  // Tasks run one at a time: 3 loads, then 3 segments.
  for (int task = 0; task < 5; ++task) {
    ASSERT_TRUE(executor_->RunOne());
    EXPECT_THAT(output_.messages(), ::testing::IsEmpty()) << "task " << task;
  }
  ASSERT_TRUE(executor_->RunOne());
  const std::vector<v1::WorkerMessage> sent = output_.messages();
  ASSERT_EQ(sent.size(), 1u);
  ASSERT_TRUE(sent[0].has_segment_dones()) << sent[0].DebugString();

  // The same orders, unbatched, on a host of their own.
  testing::RecordingOutput output;
  auto executor = std::make_unique<testing::ManualExecutor>();
  testing::ManualExecutor* manual = executor.get();
  ReplicaHost unbatched(HostOptions(), std::move(executor), &output);
  unbatched.LoadJob(MakeLoadJob(kJob, spec));
  for (int i = 0; i < 3; ++i) {
    unbatched.LoadReplica(MakeLoadReplica(kJob, i, 1, i, 5));
  }
  const v1::SegmentOrders orders = RoundOrders(3, 0);
  for (v1::SegmentOrder order : orders.orders()) {
    order.set_batch_result(false);
    unbatched.Order(order);
  }
  manual->RunAll();
  const std::vector<v1::WorkerMessage> alone = output.messages();
  ASSERT_EQ(alone.size(), 3u);
  ASSERT_EQ(sent[0].segment_dones().done_size(), 3);
  for (int i = 0; i < 3; ++i) {
    v1::SegmentDone batched = sent[0].segment_dones().done(i);
    v1::SegmentDone single = alone[i].segment_done();
    batched.clear_seconds();
    single.clear_seconds();
    EXPECT_EQ(batched.SerializeAsString(), single.SerializeAsString())
        << batched.DebugString() << " vs " << single.DebugString();
  }
}

// Held results leave early once they reach max_held_bytes, so no message
// grows with replicas x atoms: here every result is over the limit and
// leaves as its segment ends, before the round's last.
class SmallBatchHostTest : public ReplicaHostTest {
 protected:
  SmallBatchHostTest() : ReplicaHostTest(Options()) {}
  static HostOptions Options() {
    HostOptions options;
    options.max_held_bytes = 1;
    return options;
  }
};

TEST_F(SmallBatchHostTest, ResultsOverTheByteLimitAreNotHeld) {
  LoadReplicas(3);
  host_->Orders(RoundOrders(3, 0));
  for (int task = 0; task < 4; ++task) ASSERT_TRUE(executor_->RunOne());
  // 3 loads and the first segment: its result has left.
  std::vector<v1::WorkerMessage> sent = output_.messages();
  ASSERT_EQ(sent.size(), 1u);
  ExpectResultOf(sent[0], 0);
  sent = Run();
  ASSERT_EQ(sent.size(), 3u);
  for (int i = 0; i < 3; ++i) ExpectResultOf(sent[i], i);
}

// A failure is not held: it leaves at once, after the results held so far,
// and the round's last result leaves when its segment ends.
TEST_F(ReplicaHostTest, AFailureLeavesAtOnceAfterTheHeldResults) {
  LoadReplicas(3);
  v1::SegmentOrders orders = RoundOrders(3, 0);
  // Fails at once: an adaptive ladder's temperature without its version.
  orders.mutable_orders(1)->set_temperature_k(305);
  host_->Orders(orders);
  const std::vector<v1::WorkerMessage> sent = Run();
  ASSERT_EQ(sent.size(), 3u);
  ExpectResultOf(sent[0], 0);
  ASSERT_TRUE(sent[1].has_segment_failed()) << sent[1].DebugString();
  EXPECT_EQ(sent[1].segment_failed().replica(), 1);
  ExpectResultOf(sent[2], 2);
}

// Orders that end without running still end their round: one cancelled by
// a release, or dropped with a superseded copy of its replica. Otherwise
// the round's other results would be held for ever.
TEST_F(ReplicaHostTest, OrdersDroppedUnrunStillEndTheirRound) {
  LoadReplicas(3);
  host_->Orders(RoundOrders(3, 0));
  host_->Release(MakeRelease(kJob, 1, 1, /*want_state=*/false));
  host_->LoadReplica(MakeLoadReplica(kJob, 2, /*epoch=*/2, 2, 5));
  const std::vector<v1::WorkerMessage> sent = Run();
  ASSERT_EQ(sent.size(), 1u);
  ExpectResultOf(sent[0], 0);

  // The round again (a rollback's), at replica 2's new epoch: counted
  // afresh.
  v1::SegmentOrder again = RoundOrders(3, 0).orders(2);
  again.set_epoch(2);
  host_->Order(again);
  const std::vector<v1::WorkerMessage> later = Run();
  ASSERT_EQ(later.size(), 2u);
  ExpectResultOf(later[1], 2);
}

// An unloaded job's held results are dropped, not sent.
TEST_F(ReplicaHostTest, UnloadJobDropsHeldResults) {
  LoadReplicas(2);
  host_->Orders(RoundOrders(2, 0));
  for (int task = 0; task < 3; ++task) ASSERT_TRUE(executor_->RunOne());
  host_->UnloadJob(MakeUnload(kJob));
  EXPECT_THAT(Run(), ::testing::IsEmpty());
  EXPECT_TRUE(host_->idle());
}

TEST_F(ReplicaHostTest, StaleEpochsAndUnknownReplicasAreDropped) {
  const v1::JobSpec spec = ExampleSpec(kTremd);
  LoadJob(spec);
  host_->LoadReplica(MakeLoadReplica(kJob, 0, 2, 0, 5));
  host_->LoadReplica(MakeLoadReplica(kJob, 0, 1, 3, 5));  // older: ignored
  host_->Order(MakeOrder(kJob, 0, 0, /*epoch=*/1, 0, kSteps, 9));
  host_->Order(MakeOrder(kJob, 0, 0, /*epoch=*/3, 0, kSteps, 9));
  host_->Order(MakeOrder(kJob, 1, 0, 2, 0, kSteps, 9));  // not hosted
  host_->Order(MakeOrder("other-job", 0, 0, 2, 0, kSteps, 9));
  EXPECT_THAT(Run(), ::testing::IsEmpty());

  // The epoch-2 copy at rung 0 is still the one hosted.
  const v1::SegmentOrder order = MakeOrder(kJob, 0, 0, 2, 0, kSteps, 9);
  host_->Order(order);
  const std::vector<v1::WorkerMessage> sent = Run();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].segment_done().potential_kj_mol(),
            DirectRun(spec).FirstSegment(0, 5, order).potential_kj_mol);
}

TEST_F(ReplicaHostTest, NewerEpochReplacesTheHostedReplica) {
  LoadJob(ExampleSpec(kTremd));
  host_->LoadReplica(MakeLoadReplica(kJob, 0, 1, 0, 5));
  host_->LoadReplica(MakeLoadReplica(kJob, 0, 2, 1, 6));
  host_->Order(MakeOrder(kJob, 0, 0, 1, 0, kSteps, 9));
  host_->Order(MakeOrder(kJob, 0, 0, 2, 1, kSteps, 9));
  const std::vector<v1::WorkerMessage> sent = Run();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].segment_done().epoch(), 2);
  EXPECT_EQ(host_->hosted_replicas(), 1);
}

TEST_F(ReplicaHostTest, DuplicateOrderRunsOnce) {
  const v1::JobSpec spec = ExampleSpec(kTremd);
  LoadJob(spec);
  host_->LoadReplica(MakeLoadReplica(kJob, 0, 1, 1, 5));
  const v1::SegmentOrder order = MakeOrder(kJob, 0, 4, 1, 1, kSteps, 9);
  host_->Order(order);
  host_->Order(order);  // while the first is queued
  Run();
  host_->Order(order);  // after it ran
  const std::vector<v1::WorkerMessage> sent = Run();
  ASSERT_EQ(sent.size(), 1u);
  // One segment's worth of dynamics, not two.
  EXPECT_EQ(sent[0].segment_done().potential_kj_mol(),
            DirectRun(spec).FirstSegment(1, 5, order).potential_kj_mol);
}

TEST_F(ReplicaHostTest, ReleasedStateRestoresToTheSameState) {
  const v1::JobSpec spec = ExampleSpec(kTremd);
  LoadJob(spec);
  host_->LoadReplica(MakeLoadReplica(kJob, 2, 1, 3, 5));
  const v1::SegmentOrder first = MakeOrder(kJob, 2, 0, 1, 2, kSteps, 9);
  host_->Order(first);
  // The release arrives while the segment is still in progress (its result
  // being sent): it waits for it, and the state includes it.
  output_.set_on_send([this](const v1::WorkerMessage& message) {
    if (message.has_segment_done()) {
      host_->Release(MakeRelease(kJob, 2, 1, /*want_state=*/true));
    }
  });
  std::vector<v1::WorkerMessage> sent = Run();
  output_.set_on_send(nullptr);

  ASSERT_EQ(sent.size(), 2u);
  EXPECT_TRUE(sent[0].has_segment_done());
  ASSERT_TRUE(sent[1].has_replica_state());
  const v1::ReplicaStateReport report = sent[1].replica_state();
  EXPECT_EQ(report.job_id(), kJob);
  EXPECT_EQ(report.replica(), 2);
  EXPECT_EQ(report.epoch(), 1);
  EXPECT_EQ(report.rung(), 2);
  EXPECT_EQ(host_->hosted_replicas(), 0);
  DirectRun direct(spec);
  auto replica = direct.Create(3, 5);
  DirectRun::Execute(*replica, first);
  EXPECT_EQ(report.state(), DirectRun::State(*replica));

  // Moved back here under a new epoch, it continues exactly where the
  // direct replica does, and releases to the same bytes it was given.
  host_->LoadReplica(
      MakeLoadReplica(kJob, 2, 2, report.rung(), 77, report.state()));
  const v1::SegmentOrder second = MakeOrder(kJob, 2, 1, 2, 0, kSteps, 10);
  host_->Release(MakeRelease(kJob, 2, 2, true));
  sent = Run();
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sent[2].replica_state().state(), report.state());

  host_->LoadReplica(
      MakeLoadReplica(kJob, 2, 3, report.rung(), 78, report.state()));
  host_->Order(MakeOrder(kJob, 2, 1, 3, 0, kSteps, 10));
  sent = Run();
  ASSERT_EQ(sent.size(), 4u);
  EXPECT_EQ(sent[3].segment_done().potential_kj_mol(),
            DirectRun::Execute(*replica, second).potential_kj_mol);
}

// A checkpoint round's SegmentDone carries the state after the segment; a
// replica restarted from it with redraw_velocities keeps its positions but
// takes the velocities its new Context drew.
TEST_F(ReplicaHostTest, CheckpointStatesAndRedrawnVelocities) {
  const v1::JobSpec spec = ExampleSpec(kTremd);
  LoadJob(spec);
  host_->LoadReplica(MakeLoadReplica(kJob, 1, 1, 1, 5));
  v1::SegmentOrder order = MakeOrder(kJob, 1, 0, 1, 1, kSteps, 9);
  order.set_want_state(true);
  host_->Order(order);
  std::vector<v1::WorkerMessage> sent = Run();
  ASSERT_EQ(sent.size(), 1u);
  const std::string state = sent[0].segment_done().state();
  DirectRun direct(spec);
  auto replica = direct.Create(1, 5);
  DirectRun::Execute(*replica, order);
  EXPECT_EQ(state, DirectRun::State(*replica));

  v1::LoadReplica restart = MakeLoadReplica(kJob, 1, 2, 1, 1234, state);
  restart.set_redraw_velocities(true);
  host_->LoadReplica(restart);
  host_->Release(MakeRelease(kJob, 1, 2, /*want_state=*/true));
  sent = Run();
  ASSERT_EQ(sent.size(), 2u);
  const engine::PortableState before =
      *engine::PortableState::Deserialize(state);
  const engine::PortableState after =
      *engine::PortableState::Deserialize(sent[1].replica_state().state());
  EXPECT_EQ(after.positions_nm, before.positions_nm);
  EXPECT_NE(after.velocities_nm_per_ps, before.velocities_nm_per_ps);
  // The velocities a fresh Context draws from that seed at that rung.
  EXPECT_EQ(after.velocities_nm_per_ps,
            engine::PortableState::Deserialize(
                DirectRun::State(*direct.Create(1, 1234)))
                ->velocities_nm_per_ps);
}

TEST_F(ReplicaHostTest, ReleaseCancelsOrdersNotStarted) {
  const v1::JobSpec spec = ExampleSpec(kTremd);
  LoadJob(spec);
  host_->LoadReplica(MakeLoadReplica(kJob, 0, 1, 0, 5));
  host_->Order(MakeOrder(kJob, 0, 0, 1, 0, kSteps, 9));
  host_->Release(MakeRelease(kJob, 0, 1, true));
  host_->Order(MakeOrder(kJob, 0, 1, 1, 0, kSteps, 9));  // after release
  const std::vector<v1::WorkerMessage> sent = Run();
  ASSERT_EQ(sent.size(), 1u);
  ASSERT_TRUE(sent[0].has_replica_state());
  DirectRun direct(spec);
  auto replica = direct.Create(0, 5);
  EXPECT_EQ(sent[0].replica_state().state(), DirectRun::State(*replica));
}

TEST_F(ReplicaHostTest, ReleaseWithoutStateSendsNothing) {
  LoadJob(ExampleSpec(kTremd));
  host_->LoadReplica(MakeLoadReplica(kJob, 0, 1, 0, 5));
  host_->Release(MakeRelease(kJob, 0, 2, true));  // wrong epoch: ignored
  host_->Release(MakeRelease(kJob, 0, 1, false));
  EXPECT_THAT(Run(), ::testing::IsEmpty());
  EXPECT_EQ(host_->hosted_replicas(), 0);
  EXPECT_TRUE(host_->idle());
}

TEST_F(ReplicaHostTest, UnloadJobDropsQueuedWork) {
  LoadJob(ExampleSpec(kTremd));
  for (int i = 0; i < 2; ++i) {
    host_->LoadReplica(MakeLoadReplica(kJob, i, 1, i, 5));
    host_->Order(MakeOrder(kJob, i, 0, 1, i, kSteps, 9));
  }
  host_->UnloadJob(MakeUnload(kJob));
  EXPECT_EQ(host_->hosted_replicas(), 0);
  EXPECT_EQ(host_->hosted_jobs(), 0);
  host_->Order(MakeOrder(kJob, 0, 1, 1, 0, kSteps, 9));
  EXPECT_THAT(Run(), ::testing::IsEmpty());
  EXPECT_TRUE(host_->idle());
  EXPECT_GE(output_.idle_calls(), 1);
}

// Cancelling a job stops its running segment (within kStopCheckSteps steps)
// instead of letting it run out; nothing is sent for it. The segment is
// 2^31 - 1 steps: without the stop this would wait out its 60 s bound.
TEST_F(ReplicaHostTest, UnloadJobStopsARunningSegment) {
  LoadJob(ExampleSpec(kTremd));
  host_->LoadReplica(MakeLoadReplica(kJob, 0, 1, 0, 5));
  ASSERT_THAT(Run(), ::testing::IsEmpty());
  host_->Order(MakeOrder(kJob, 0, 0, 1, 0, std::numeric_limits<int>::max(), 9));
  std::promise<void> finished;
  std::thread runner([&] {
    executor_->RunAll();
    finished.set_value();
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  host_->UnloadJob(MakeUnload(kJob));
  const bool stopped =
      finished.get_future().wait_for(std::chrono::seconds(60)) ==
      std::future_status::ready;
  if (!stopped) {
    runner.detach();
    FAIL() << "the segment still runs 60 s after UnloadJob";
  }
  runner.join();
  EXPECT_THAT(output_.messages(), ::testing::IsEmpty());
  EXPECT_TRUE(host_->idle());
}

TEST_F(ReplicaHostTest, BadSystemXmlFailsOrdersAsInvalidInput) {
  v1::JobSpec spec = ExampleSpec(kTremd);
  spec.set_system_xml("<System this is not XML");
  LoadJob(spec);
  host_->LoadReplica(MakeLoadReplica(kJob, 0, 1, 0, 5));
  host_->LoadReplica(MakeLoadReplica(kJob, 1, 1, 1, 5));
  host_->Order(MakeOrder(kJob, 0, 0, 1, 0, kSteps, 9));
  host_->Order(MakeOrder(kJob, 1, 0, 1, 1, kSteps, 9));
  const std::vector<v1::WorkerMessage> sent = Run();
  ASSERT_EQ(sent.size(), 2u);
  for (const v1::WorkerMessage& message : sent) {
    ASSERT_TRUE(message.has_segment_failed()) << message.DebugString();
    EXPECT_TRUE(message.segment_failed().invalid_input());
    EXPECT_THAT(message.segment_failed().error(), HasSubstr("system_xml"));
    EXPECT_EQ(message.segment_failed().round(), 0);
    EXPECT_EQ(message.segment_failed().epoch(), 1);
  }
}

TEST_F(ReplicaHostTest, AStateThatCannotBeSavedIsReportedEmpty) {
  // The replica never loaded, so there is no state; an empty report lets the
  // coordinator fail the move at once instead of waiting for it forever.
  v1::JobSpec spec = ExampleSpec(kTremd);
  spec.set_system_xml("<System this is not XML");
  LoadJob(spec);
  host_->LoadReplica(MakeLoadReplica(kJob, 0, 1, 0, 5));
  host_->Release(MakeRelease(kJob, 0, 1, /*want_state=*/true));
  const std::vector<v1::WorkerMessage> sent = Run();
  ASSERT_EQ(sent.size(), 1u);
  ASSERT_TRUE(sent[0].has_replica_state()) << sent[0].DebugString();
  EXPECT_EQ(sent[0].replica_state().replica(), 0);
  EXPECT_EQ(sent[0].replica_state().epoch(), 1);
  EXPECT_TRUE(sent[0].replica_state().state().empty());
}

TEST_F(ReplicaHostTest, UnknownLadderParameterIsInvalidInput) {
  v1::JobSpec spec = ExampleSpec(kHremd);
  spec.mutable_ladder()->mutable_parameters(0)->set_name("NoSuchParameter");
  LoadJob(spec);
  host_->LoadReplica(MakeLoadReplica(kJob, 0, 1, 0, 5));
  host_->Order(MakeOrder(kJob, 0, 0, 1, 0, kSteps, 9));
  const std::vector<v1::WorkerMessage> sent = Run();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_TRUE(sent[0].segment_failed().invalid_input());
  EXPECT_THAT(sent[0].segment_failed().error(), HasSubstr("NoSuchParameter"));
}

TEST_F(ReplicaHostTest, ProtocolProblemsFailOrdersButNotTheJob) {
  // No LoadJob for "missing"; a state that is not a PortableState.
  LoadJob(ExampleSpec(kTremd));
  host_->LoadReplica(MakeLoadReplica("missing", 0, 1, 0, 5));
  host_->LoadReplica(MakeLoadReplica(kJob, 1, 1, 0, 5, "garbage"));
  host_->Order(MakeOrder("missing", 0, 0, 1, 0, kSteps, 9));
  host_->Order(MakeOrder(kJob, 1, 0, 1, 0, kSteps, 9));
  const std::vector<v1::WorkerMessage> sent = Run();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_THAT(sent[0].segment_failed().error(), HasSubstr("LoadJob"));
  EXPECT_THAT(sent[1].segment_failed().error(), HasSubstr("state"));
  for (const v1::WorkerMessage& message : sent) {
    EXPECT_FALSE(message.segment_failed().invalid_input());
  }
}

class SmallHostTest : public ReplicaHostTest {
 protected:
  static HostOptions OneReplica() {
    HostOptions options;
    options.max_replicas = 1;
    return options;
  }
  SmallHostTest() : ReplicaHostTest(OneReplica()) {}
};

TEST_F(SmallHostTest, ReplicasBeyondMaxReplicasFailTheirOrders) {
  LoadJob(ExampleSpec(kTremd));
  host_->LoadReplica(MakeLoadReplica(kJob, 0, 1, 0, 5));
  host_->LoadReplica(MakeLoadReplica(kJob, 1, 1, 1, 5));
  host_->Order(MakeOrder(kJob, 0, 0, 1, 0, kSteps, 9));
  host_->Order(MakeOrder(kJob, 1, 0, 1, 1, kSteps, 9));
  const std::vector<v1::WorkerMessage> sent = Run();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(Count(sent, v1::WorkerMessage::kSegmentDone), 1);
  for (const v1::WorkerMessage& message : sent) {
    if (!message.has_segment_failed()) continue;
    EXPECT_EQ(message.segment_failed().replica(), 1);
    EXPECT_THAT(message.segment_failed().error(), HasSubstr("max_replicas"));
    EXPECT_FALSE(message.segment_failed().invalid_input());
  }
}

TEST_F(SmallHostTest, AReleasedPlaceCanBeReusedAtOnce) {
  // The coordinator sends LoadReplica for the freed place right after the
  // ReleaseReplica, before the release has run.
  LoadJob(ExampleSpec(kTremd));
  host_->LoadReplica(MakeLoadReplica(kJob, 0, 1, 0, 5));
  host_->Release(MakeRelease(kJob, 0, 1, true));
  host_->LoadReplica(MakeLoadReplica(kJob, 1, 1, 1, 5));
  host_->Order(MakeOrder(kJob, 1, 0, 1, 1, kSteps, 9));
  const std::vector<v1::WorkerMessage> sent = Run();
  EXPECT_EQ(Count(sent, v1::WorkerMessage::kReplicaState), 1);
  EXPECT_EQ(Count(sent, v1::WorkerMessage::kSegmentDone), 1);
}

class TwoSlotHostTest : public ReplicaHostTest {
 protected:
  static HostOptions TwoSlots() {
    HostOptions options;
    options.slots = 2;
    return options;
  }
  TwoSlotHostTest() : ReplicaHostTest(TwoSlots()) {}
};

// Pinned slots run only their own replicas, so a replica loaded after
// others were released must go to the slot they left.
TEST_F(TwoSlotHostTest, ANewReplicaGoesToTheSlotHostingFewest) {
  LoadJob(ExampleSpec(kTremd));
  for (int replica = 0; replica < 4; ++replica) {
    host_->LoadReplica(MakeLoadReplica(kJob, replica, 1, replica, 5));
  }
  Run();
  EXPECT_THAT(executor_->affinities(), ::testing::ElementsAre(0, 1, 0, 1));
  // Both of slot 0's replicas leave; slot 1 keeps two.
  host_->Release(MakeRelease(kJob, 0, 1, false));
  host_->Release(MakeRelease(kJob, 2, 1, false));
  Run();
  for (int replica = 4; replica < 7; ++replica) {
    host_->LoadReplica(MakeLoadReplica(kJob, replica, 1, replica % 4, 5));
  }
  Run();
  const std::vector<uint64_t> affinities = executor_->affinities();
  ASSERT_EQ(affinities.size(), 9u);
  // Slot 0 fills up to slot 1's two, then the lower slot wins the tie.
  EXPECT_THAT(std::vector<uint64_t>(affinities.end() - 3, affinities.end()),
              ::testing::ElementsAre(0, 0, 0));
}

TEST_F(ReplicaHostTest, ReleasingTheLastReplicaMakesTheHostIdle) {
  LoadJob(ExampleSpec(kTremd));
  host_->LoadReplica(MakeLoadReplica(kJob, 0, 1, 0, 5));
  host_->Order(MakeOrder(kJob, 0, 0, 1, 0, kSteps, 9));
  Run();
  EXPECT_FALSE(host_->idle());
  const int idle_before = output_.idle_calls();
  host_->Release(MakeRelease(kJob, 0, 1, true));
  EXPECT_FALSE(host_->idle());  // until the state has been sent
  const std::vector<v1::WorkerMessage> sent = Run();
  EXPECT_TRUE(sent.back().has_replica_state());
  EXPECT_TRUE(host_->idle());
  EXPECT_GT(output_.idle_calls(), idle_before);
}

TEST_F(ReplicaHostTest, DropAllForgetsEverything) {
  LoadJob(ExampleSpec(kTremd));
  host_->LoadReplica(MakeLoadReplica(kJob, 0, 1, 0, 5));
  host_->Order(MakeOrder(kJob, 0, 0, 1, 0, kSteps, 9));
  host_->DropAll();
  EXPECT_THAT(Run(), ::testing::IsEmpty());
  EXPECT_EQ(host_->hosted_jobs(), 0);
  EXPECT_TRUE(host_->idle());
  // A new session must send LoadJob again.
  host_->LoadReplica(MakeLoadReplica(kJob, 0, 2, 0, 5));
  host_->Order(MakeOrder(kJob, 0, 0, 2, 0, kSteps, 9));
  const std::vector<v1::WorkerMessage> sent = Run();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_THAT(sent[0].segment_failed().error(), HasSubstr("LoadJob"));
}

// Several replicas per GPU: each Context on one device, the replicas taking
// turns over them; never one simulation spread over every device.
TEST(ReplicaEngineOptionsTest, EachReplicaRunsOnOneDeviceInTurn) {
  engine::EngineOptions job;
  job.platform = "CUDA";
  const std::vector<std::string> devices = {"0", "1"};
  std::vector<std::string> chosen;
  for (uint64_t affinity = 0; affinity < 5; ++affinity) {
    chosen.push_back(ReplicaEngineOptions(job, devices, affinity)
                         .platform_properties.at("DeviceIndex"));
  }
  EXPECT_EQ(chosen, (std::vector<std::string>{"0", "1", "0", "1", "0"}));

  engine::EngineOptions pinned = job;
  pinned.platform_properties["DeviceIndex"] = "3";
  EXPECT_EQ(ReplicaEngineOptions(pinned, devices, 0)
                .platform_properties.at("DeviceIndex"),
            "3");
  engine::EngineOptions cpu;
  cpu.platform = "CPU";
  EXPECT_EQ(ReplicaEngineOptions(cpu, devices, 1)
                .platform_properties.count("DeviceIndex"),
            0u);
  EXPECT_EQ(
      ReplicaEngineOptions(job, {}, 1).platform_properties.count("DeviceIndex"),
      0u);
}

}  // namespace
}  // namespace replex::worker
