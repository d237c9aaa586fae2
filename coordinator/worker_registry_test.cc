// The worker registry and RemoteExecutor without sockets: fake workers (or
// the test itself, playing a worker) talk to the registry directly, and the
// test drives rounds through the executor as a job's thread would.
#include "coordinator/worker_registry.h"

#include <algorithm>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <thread>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "coordinator/checkpoint_recovery.h"
#include "coordinator/testing/fake_worker.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/exchange/seeds.h"
#include "lib/runner/asynchronous.h"
#include "lib/runner/driver.h"
#include "lib/spec/spec.h"
#include "lib/timing/testing/fake_clock.h"

namespace replex::coordinator {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAre;

class WorkerRegistryTest : public ::testing::Test {
 protected:
  WorkerRegistry::Options Options() {
    WorkerRegistry::Options options;
    options.heartbeat_interval = absl::Seconds(5);
    options.heartbeat_timeout = absl::Seconds(30);
    return options;
  }

  // Admits a job of `n` replicas (`hamiltonian` adds reduced potentials).
  std::unique_ptr<JobExecutor> Admit(const std::string& id, int n,
                                     int rounds = 4, bool hamiltonian = false,
                                     const std::string& platform = "CPU") {
    spec_ = TestSpec(n, rounds, hamiltonian, platform);
    return AdmitSpec(id, n);
  }
  // The same under asynchronous exchange (exchange.mode), for `rounds`
  // rounds' worth of segments.
  std::unique_ptr<JobExecutor> AdmitAsynchronous(const std::string& id, int n,
                                                 int rounds) {
    spec_ = TestSpec(n, rounds);
    spec_.mutable_exchange()->set_mode(v1::Exchange::ASYNCHRONOUS);
    return AdmitSpec(id, n);
  }
  // Admits spec_ as job `id`, its driver in drivers_.
  std::unique_ptr<JobExecutor> AdmitSpec(const std::string& id, int n) {
    absl::StatusOr<runner::RoundDriver> driver =
        runner::RoundDriver::Create(spec_);
    EXPECT_TRUE(driver.ok()) << driver.status();
    drivers_.insert_or_assign(
        id, std::make_unique<runner::RoundDriver>(*std::move(driver)));
    absl::StatusOr<std::unique_ptr<JobExecutor>> executor =
        registry_.Admit(id, std::make_shared<v1::JobSpec>(spec_), n);
    EXPECT_TRUE(executor.ok()) << executor.status();
    return executor.ok() ? *std::move(executor) : nullptr;
  }

  // Runs the asynchronous job's segments on `executor`'s SegmentStream as
  // the job thread would (runner::RunAsynchronously).
  absl::StatusOr<runner::AsynchronousRun> RunAsynchronously(
      const std::string& id, JobExecutor& executor,
      const runner::AsynchronousOptions& options,
      const std::function<absl::Status(const runner::ExchangeEvent&)>&
          on_event) {
    return runner::RunAsynchronously(*drivers_.at(id), *executor.Stream(),
                                     options, on_event);
  }

  // Runs the job's next round through `executor` as the job thread would.
  absl::Status Round(const std::string& id, JobExecutor& executor) {
    runner::RoundDriver& driver = *drivers_.at(id);
    absl::StatusOr<std::vector<runner::SegmentResult>> results =
        executor.RunSegments(driver.Orders(false));
    if (!results.ok()) return results.status();
    return driver.Complete(*results).status();
  }

  std::map<std::string, int> Hosted() {
    std::map<std::string, int> hosted;
    for (const WorkerInfo& worker : registry_.Workers()) {
      hosted[worker.name] = worker.hosted;
    }
    return hosted;
  }

  timing::testing::FakeClock clock_;
  WorkerRegistry registry_{Options(), &clock_};
  v1::JobSpec spec_;
  std::map<std::string, std::unique_ptr<runner::RoundDriver>> drivers_;
};

// Messages of one kind a fake received, e.g. kLoadReplica.
std::vector<v1::CoordinatorMessage> OfKind(
    const FakeWorker& worker, v1::CoordinatorMessage::MessageCase kind) {
  std::vector<v1::CoordinatorMessage> out;
  for (const v1::CoordinatorMessage& message : worker.received()) {
    if (message.message_case() == kind) out.push_back(message);
  }
  return out;
}

TEST_F(WorkerRegistryTest, SixtyFourReplicasOnTwoWorkersBalancedBySlots) {
  FakeWorker big(&registry_, "big", 3, 64), small(&registry_, "small", 1, 64);
  std::unique_ptr<JobExecutor> job = Admit("j1", 64, 2);
  ASSERT_TRUE(job);
  EXPECT_EQ(job->workers(), 2);
  ASSERT_TRUE(Round("j1", *job).ok());
  ASSERT_TRUE(Round("j1", *job).ok());
  EXPECT_THAT(big.hosted(), SizeIs(48));
  EXPECT_THAT(small.hosted(), SizeIs(16));
  EXPECT_EQ(big.segments_run(), 96);
  EXPECT_EQ(small.segments_run(), 32);
  // LoadJob once per worker, LoadReplica once per replica, then orders.
  EXPECT_THAT(OfKind(big, v1::CoordinatorMessage::kLoadJob), SizeIs(1));
  EXPECT_THAT(OfKind(big, v1::CoordinatorMessage::kLoadReplica), SizeIs(48));
  // A message of orders per worker per round, not one per replica.
  EXPECT_THAT(OfKind(big, v1::CoordinatorMessage::kSegmentOrders), SizeIs(2));
  EXPECT_EQ(big.bad_orders() + small.bad_orders(), 0);
}

TEST_F(WorkerRegistryTest, LoadReplicaCarriesEpochRungAndVelocitySeed) {
  FakeWorker worker(&registry_, "w", 1, 8);
  std::unique_ptr<JobExecutor> job = Admit("j1", 2, 1);
  ASSERT_TRUE(Round("j1", *job).ok());
  const std::vector<v1::CoordinatorMessage> received = worker.received();
  ASSERT_THAT(received, SizeIs(5));  // Welcome, LoadJob, 2 loads, the orders
  EXPECT_TRUE(received[0].has_welcome());
  EXPECT_EQ(received[0].welcome().worker_id(), worker.worker_id());
  EXPECT_EQ(received[0].welcome().heartbeat_interval_ms(), 5000);
  EXPECT_EQ(received[1].load_job().spec().system_xml(), "<System/>");
  const v1::LoadReplica& load = received[3].load_replica();
  EXPECT_EQ(load.replica(), 1);
  EXPECT_EQ(load.epoch(), 1);
  EXPECT_EQ(load.rung(), 1);
  EXPECT_EQ(load.velocity_seed(), exchange::VelocitySeed(17, 1));
  EXPECT_TRUE(load.state().empty());
  // One message carries the round's orders for both replicas, in order.
  ASSERT_THAT(received[4].segment_orders().orders(), SizeIs(2));
  EXPECT_EQ(received[4].segment_orders().orders(0).replica(), 0);
  const v1::SegmentOrder& order = received[4].segment_orders().orders(1);
  EXPECT_EQ(order.replica(), 1);
  EXPECT_EQ(order.epoch(), 1);
  EXPECT_EQ(order.steps(), 10);
  EXPECT_EQ(order.segment_seed(), exchange::SegmentSeed(17, 1, 0));
  // A synchronous round: the worker may send its results together.
  EXPECT_TRUE(order.batch_result());
}

TEST_F(WorkerRegistryTest, ThreeReplicasOnFiveWorkersLeaveTwoIdle) {
  std::vector<std::unique_ptr<FakeWorker>> workers;
  for (int w = 0; w < 5; ++w) {
    workers.push_back(std::make_unique<FakeWorker>(
        &registry_, "w" + std::to_string(w), 1, 4));
  }
  std::unique_ptr<JobExecutor> job = Admit("j1", 3, 3, /*hamiltonian=*/true);
  EXPECT_EQ(job->workers(), 3);
  for (int round = 0; round < 3; ++round) ASSERT_TRUE(Round("j1", *job).ok());
  std::vector<int> segments;
  for (const auto& worker : workers) segments.push_back(worker->segments_run());
  EXPECT_THAT(segments, ElementsAre(3, 3, 3, 0, 0));
}

TEST_F(WorkerRegistryTest, PlatformMismatchKeepsAJobWaiting) {
  FakeWorker opencl(&registry_, "gpu", 1, 8, "OpenCL");
  spec_ = TestSpec(2, 1);
  absl::StatusOr<std::unique_ptr<JobExecutor>> job =
      registry_.Admit("j1", std::make_shared<v1::JobSpec>(spec_), 2);
  EXPECT_EQ(job.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(job.status().message(), HasSubstr("no CPU worker"));

  FakeWorker cpu(&registry_, "cpu", 1, 1);
  job = registry_.Admit("j1", std::make_shared<v1::JobSpec>(spec_), 2);
  EXPECT_THAT(job.status().message(), HasSubstr("have 1 free of 1 in all"));
  // More replicas than the connected workers host even when idle: said so.
  EXPECT_THAT(job.status().message(),
              HasSubstr("it waits for more CPU workers: the connected ones "
                        "cannot host it even when idle"));
}

TEST_F(WorkerRegistryTest, TheListenerHearsOfNewWorkers) {
  int calls = 0;
  registry_.SetCapacityListener([&calls] { ++calls; });
  FakeWorker a(&registry_, "a", 1, 1), b(&registry_, "b", 1, 1);
  EXPECT_EQ(calls, 2);
}

TEST_F(WorkerRegistryTest, AWorkerJoiningMidJobGetsReplicasAtTheNextRound) {
  FakeWorker a(&registry_, "a", 1, 8);
  std::unique_ptr<JobExecutor> job = Admit("j1", 4, 3, /*hamiltonian=*/true);
  ASSERT_TRUE(Round("j1", *job).ok());
  const std::vector<int> rungs_after_round0 =
      drivers_.at("j1")->permutation().rung_of_replica();

  FakeWorker b(&registry_, "b", 1, 8);
  ASSERT_TRUE(Round("j1", *job).ok());
  EXPECT_THAT(a.hosted(),
              UnorderedElementsAre(std::pair<std::string, int>{"j1", 0},
                                   std::pair<std::string, int>{"j1", 1}));
  EXPECT_THAT(b.hosted(),
              UnorderedElementsAre(std::pair<std::string, int>{"j1", 2},
                                   std::pair<std::string, int>{"j1", 3}));
  EXPECT_EQ(job->workers(), 2);
  // a was asked for the states of replicas 2 and 3 ...
  const auto releases = OfKind(a, v1::CoordinatorMessage::kReleaseReplica);
  ASSERT_THAT(releases, SizeIs(2));
  EXPECT_EQ(releases[0].release_replica().replica(), 2);
  EXPECT_EQ(releases[0].release_replica().epoch(), 1);
  EXPECT_TRUE(releases[0].release_replica().want_state());
  // ... and b loaded them from those states, at a new epoch, at the rung
  // the state was made at (round 0's), before their first order.
  const std::vector<v1::CoordinatorMessage> at_b = b.received();
  ASSERT_THAT(at_b, SizeIs(5));  // Welcome, LoadJob, 2 loads, the orders
  EXPECT_TRUE(at_b[1].has_load_job());
  const v1::LoadReplica& load = at_b[2].load_replica();
  EXPECT_EQ(load.replica(), 2);
  EXPECT_EQ(load.epoch(), 2);
  EXPECT_EQ(load.state(), "state of j1/2 after round 0");
  EXPECT_EQ(load.rung(), 2);  // where it ran in round 0
  // A new noise stream for the new Context, not a replay of the first.
  EXPECT_NE(load.velocity_seed(), exchange::VelocitySeed(17, 2));
  const v1::SegmentOrder& order = at_b[4].segment_orders().orders(0);
  EXPECT_EQ(order.replica(), 2);
  EXPECT_EQ(order.epoch(), 2);
  EXPECT_EQ(order.round(), 1);
  EXPECT_EQ(order.rung(), rungs_after_round0[2]);
  ASSERT_TRUE(Round("j1", *job).ok());
  EXPECT_EQ(a.segments_run(), 4 + 2 + 2);
  EXPECT_EQ(b.segments_run(), 2 + 2);
  EXPECT_EQ(a.bad_orders() + b.bad_orders(), 0);
}

TEST_F(WorkerRegistryTest, WhereReplicasRunDoesNotChangeTheOutcome) {
  // One worker throughout versus workers coming and going between rounds.
  {
    FakeWorker only(&registry_, "only", 1, 8);
    std::unique_ptr<JobExecutor> job = Admit("alone", 6, 6, true);
    for (int round = 0; round < 6; ++round) {
      ASSERT_TRUE(Round("alone", *job).ok());
    }
  }
  FakeWorker a(&registry_, "a", 2, 8);
  std::unique_ptr<JobExecutor> job = Admit("shared", 6, 6, true);
  ASSERT_TRUE(Round("shared", *job).ok());
  auto b = std::make_unique<FakeWorker>(&registry_, "b", 1, 8);
  ASSERT_TRUE(Round("shared", *job).ok());
  auto c = std::make_unique<FakeWorker>(&registry_, "c", 3, 8);
  ASSERT_TRUE(Round("shared", *job).ok());
  b->SayGoodbye();
  ASSERT_TRUE(Round("shared", *job).ok());
  ASSERT_TRUE(Round("shared", *job).ok());
  ASSERT_TRUE(Round("shared", *job).ok());
  EXPECT_EQ(drivers_.at("alone")->permutation(),
            drivers_.at("shared")->permutation());
  EXPECT_EQ(drivers_.at("alone")->statistics().pair_accepts(),
            drivers_.at("shared")->statistics().pair_accepts());
}

TEST_F(WorkerRegistryTest,
       ADrainingWorkerHandsItsReplicasBackAndLeavesCleanly) {
  FakeWorker a(&registry_, "a", 1, 8);
  auto b = std::make_unique<FakeWorker>(&registry_, "b", 1, 8);
  std::unique_ptr<JobExecutor> job = Admit("j1", 4, 4);
  ASSERT_TRUE(Round("j1", *job).ok());
  EXPECT_THAT(b->hosted(), SizeIs(2));
  b->SayGoodbye();
  ASSERT_TRUE(Round("j1", *job).ok());
  EXPECT_THAT(b->hosted(), IsEmpty());
  EXPECT_THAT(a.hosted(), SizeIs(4));
  EXPECT_EQ(b->segments_run(), 2);
  // Nothing new goes to a draining worker, not even a new job.
  std::unique_ptr<JobExecutor> other = Admit("j2", 1, 1);
  ASSERT_TRUE(Round("j2", *other).ok());
  EXPECT_EQ(b->segments_run(), 2);
  EXPECT_TRUE(b->Leave().ok());
  ASSERT_TRUE(Round("j1", *job).ok());
}

TEST_F(WorkerRegistryTest, ALostWorkerFailsTheRoundUntilTheJobReloads) {
  FakeWorker a(&registry_, "a", 1, 8);
  auto b = std::make_unique<FakeWorker>(&registry_, "b", 1, 8);
  std::unique_ptr<JobExecutor> job = Admit("j1", 4, 4);
  ASSERT_TRUE(Round("j1", *job).ok());
  EXPECT_EQ(b->Leave().code(), absl::StatusCode::kCancelled);
  const absl::Status status = Round("j1", *job);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(status.message(), HasSubstr("worker b lost"));
  EXPECT_TRUE(CallsForRollback(status));
  EXPECT_FALSE(FaultyReplica(status).has_value());
  EXPECT_FALSE(Round("j1", *job).ok());  // until reloaded

  // Reloaded from states: every replica gets a new epoch on a, with its state.
  std::vector<JobExecutor::ReplicaStart> starts(4);
  for (int r = 0; r < 4; ++r) {
    starts[r].state = absl::StrCat("checkpoint ", r);
    starts[r].rung = 3 - r;
  }
  starts[2].velocity_seed = 99;
  starts[2].redraw_velocities = true;
  ASSERT_TRUE(job->Reload(starts).ok());
  ASSERT_TRUE(Round("j1", *job).ok());
  EXPECT_THAT(a.hosted(), SizeIs(4));
  std::map<int, v1::LoadReplica> loads;
  for (const v1::CoordinatorMessage& message : a.received()) {
    if (message.has_load_replica() && !message.load_replica().state().empty()) {
      loads[message.load_replica().replica()] = message.load_replica();
    }
  }
  ASSERT_THAT(loads, SizeIs(4));
  for (int r = 0; r < 4; ++r) {
    EXPECT_EQ(loads[r].state(), absl::StrCat("checkpoint ", r));
    EXPECT_EQ(loads[r].rung(), 3 - r);
    EXPECT_EQ(loads[r].redraw_velocities(), r == 2);
  }
  EXPECT_EQ(loads[2].velocity_seed(), 99u);
  // Releasing the job frees a's places.
  job.reset();
  EXPECT_EQ(Hosted()["a"], 0);
}

TEST_F(WorkerRegistryTest, AfterALossTheReloadedJobWaitsForRoom) {
  auto a = std::make_unique<FakeWorker>(&registry_, "a", 1, 4);
  std::unique_ptr<JobExecutor> job = Admit("j1", 2, 2);
  ASSERT_TRUE(Round("j1", *job).ok());
  EXPECT_EQ(a->Leave().code(), absl::StatusCode::kCancelled);
  EXPECT_TRUE(CallsForRollback(Round("j1", *job)));
  ASSERT_TRUE(job->Reload(std::vector<JobExecutor::ReplicaStart>(2)).ok());
  absl::Status status = absl::UnknownError("not run");
  std::thread round([&] { status = Round("j1", *job); });
  FakeWorker b(&registry_, "b", 1, 4);  // the room it waits for
  round.join();
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_THAT(b.hosted(), SizeIs(2));
}

TEST_F(WorkerRegistryTest, ReplicasOnlyAssignedToALeavingWorkerArePlacedAgain) {
  FakeWorker a(&registry_, "a", 1, 8);
  auto b = std::make_unique<FakeWorker>(&registry_, "b", 1, 8);
  std::unique_ptr<JobExecutor> job = Admit("j1", 4, 4);  // nothing loaded yet
  b->SayGoodbye();
  EXPECT_TRUE(b->Leave().ok());
  ASSERT_TRUE(Round("j1", *job).ok());
  EXPECT_THAT(a.hosted(), SizeIs(4));
}

TEST_F(WorkerRegistryTest, AnIdleWorkerMayLeaveWithoutGoodbye) {
  FakeWorker a(&registry_, "a", 1, 8);
  FakeWorker idle(&registry_, "idle", 1, 8);
  std::unique_ptr<JobExecutor> job = Admit("j1", 1, 2);
  ASSERT_TRUE(Round("j1", *job).ok());
  EXPECT_TRUE(idle.Leave().ok());
  EXPECT_TRUE(Round("j1", *job).ok());
}

TEST_F(WorkerRegistryTest, AbsurdCapacitiesAreRefusedNotSummed) {
  // Capacities are summed in int; two INT_MAX workers would overflow.
  v1::Register hello;
  hello.set_worker_name("huge");
  hello.set_slots(1);
  hello.set_max_replicas(std::numeric_limits<int32_t>::max());
  hello.set_platform("CPU");
  const auto session = registry_.Connect(hello, [] {});
  EXPECT_EQ(session.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(session.status().message()),
              HasSubstr("max_replicas"));
}

TEST_F(WorkerRegistryTest, ASilentWorkerIsLostAtTheHeartbeatTimeout) {
  bool ended = false;
  v1::Register hello;
  hello.set_worker_name("quiet");
  hello.set_slots(1);
  hello.set_max_replicas(4);
  hello.set_platform("CPU");
  absl::StatusOr<WorkerRegistry::Session> session =
      registry_.Connect(hello, [&ended] { ended = true; });
  ASSERT_TRUE(session.ok());
  std::vector<v1::CoordinatorMessage> out;
  ASSERT_TRUE(registry_.NextOutgoing(session->key, &out));  // Welcome

  clock_.Advance(absl::Seconds(20));
  registry_.Tick();
  ASSERT_TRUE(registry_.NextOutgoing(session->key, &out));
  ASSERT_THAT(out, SizeIs(1));
  EXPECT_EQ(out[0].heartbeat().sent_unix_ms(),
            absl::ToUnixMillis(clock_.Now()));
  v1::WorkerMessage heartbeat;
  heartbeat.mutable_heartbeat();
  registry_.Receive(session->key, heartbeat);  // heard at t=20s

  clock_.Advance(absl::Seconds(30));
  registry_.Tick();
  EXPECT_FALSE(ended);
  clock_.Advance(absl::Seconds(1));
  registry_.Tick();
  EXPECT_TRUE(ended);
  EXPECT_FALSE(registry_.NextOutgoing(session->key, &out));
  const absl::Status end = registry_.Disconnect(session->key);
  EXPECT_EQ(end.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(end.message(), HasSubstr("nothing heard for 31s"));
  EXPECT_THAT(registry_.Workers(), IsEmpty());
}

TEST_F(WorkerRegistryTest, ARegisteringNameReplacesItsOldSession) {
  auto old = std::make_unique<FakeWorker>(&registry_, "w", 1, 8);
  std::unique_ptr<JobExecutor> job = Admit("j1", 2, 2);
  ASSERT_TRUE(Round("j1", *job).ok());
  FakeWorker again(&registry_, "w", 1, 8);
  EXPECT_EQ(old->Leave().code(), absl::StatusCode::kAborted);
  EXPECT_THAT(Round("j1", *job).message(), HasSubstr("worker w lost"));
  ASSERT_THAT(registry_.Workers(), SizeIs(1));
  EXPECT_EQ(registry_.Workers()[0].worker_id, again.worker_id());
}

TEST_F(WorkerRegistryTest, MalformedRegistrationsAreRefused) {
  for (const auto& [slots, max_replicas, platform] :
       std::vector<std::tuple<int, int, std::string>>{
           {0, 4, "CPU"}, {1, 0, "CPU"}, {1, 4, ""}}) {
    FakeWorker worker(&registry_, "w", slots, max_replicas, platform);
    EXPECT_EQ(worker.status().code(), absl::StatusCode::kInvalidArgument);
  }
  FakeWorker nameless(&registry_, "", 1, 1);
  EXPECT_EQ(nameless.status().code(), absl::StatusCode::kInvalidArgument);
}

// The test plays the worker itself to send exactly the results it wants.
class ManualWorkerTest : public WorkerRegistryTest {
 protected:
  void SetUp() override {
    v1::Register hello;
    hello.set_worker_name("manual");
    hello.set_slots(1);
    hello.set_max_replicas(8);
    hello.set_platform("CPU");
    absl::StatusOr<WorkerRegistry::Session> session =
        registry_.Connect(hello, [] {});
    ASSERT_TRUE(session.ok());
    key_ = session->key;
  }

  // Takes queued messages until `count` of `kind` have arrived; returns those.
  std::vector<v1::CoordinatorMessage> Take(
      v1::CoordinatorMessage::MessageCase kind, int count) {
    std::vector<v1::CoordinatorMessage> taken;
    std::vector<v1::CoordinatorMessage> batch;
    while (static_cast<int>(taken.size()) < count &&
           registry_.NextOutgoing(key_, &batch)) {
      for (const v1::CoordinatorMessage& message : batch) {
        if (message.message_case() == kind) taken.push_back(message);
      }
    }
    return taken;
  }

  // The orders of the next `messages` SegmentOrders messages (one per
  // round: this worker hosts every replica).
  std::vector<v1::SegmentOrder> TakeOrders(int messages) {
    std::vector<v1::SegmentOrder> orders;
    for (const v1::CoordinatorMessage& message :
         Take(v1::CoordinatorMessage::kSegmentOrders, messages)) {
      orders.insert(orders.end(), message.segment_orders().orders().begin(),
                    message.segment_orders().orders().end());
    }
    return orders;
  }

  // Starts the job's next round on a thread of its own, as the job's thread
  // would run it, so that the test can answer as the worker.
  std::thread StartRound(
      const std::string& id, JobExecutor& executor,
      absl::StatusOr<std::vector<runner::SegmentResult>>& results) {
    return std::thread([this, id, &executor, &results] {
      results = executor.RunSegments(drivers_.at(id)->Orders(false));
    });
  }

  // Runs job `id`'s next round of two replicas, answering both orders, and
  // completes it.
  void AnswerRound(const std::string& id, JobExecutor& executor) {
    absl::StatusOr<std::vector<runner::SegmentResult>> results;
    std::thread round = StartRound(id, executor, results);
    const std::vector<v1::SegmentOrder> orders = TakeOrders(1);
    ASSERT_THAT(orders, SizeIs(2));
    Done(orders[0], -1.0);
    Done(orders[1], -2.0);
    round.join();
    ASSERT_TRUE(results.ok()) << results.status();
    ASSERT_TRUE(drivers_.at(id)->Complete(*results).ok());
  }

  // Answers `release` as this worker would: the replica's `state` (empty:
  // handed back without it), made at rung 1.
  void HandBack(const v1::ReleaseReplica& release, const std::string& state) {
    v1::WorkerMessage message;
    v1::ReplicaStateReport& report = *message.mutable_replica_state();
    report.set_job_id(release.job_id());
    report.set_replica(release.replica());
    report.set_epoch(release.epoch());
    report.set_rung(1);
    report.set_state(state);
    registry_.Receive(key_, message);
  }

  void Done(const v1::SegmentOrder& order, double potential,
            int64_t epoch_shift = 0, int64_t round_shift = 0) {
    v1::WorkerMessage message;
    v1::SegmentDone& done = *message.mutable_segment_done();
    done.set_job_id(order.job_id());
    done.set_replica(order.replica());
    done.set_round(order.round() + round_shift);
    done.set_epoch(order.epoch() + epoch_shift);
    done.set_potential_kj_mol(potential);
    registry_.Receive(key_, message);
  }

  uint64_t key_ = 0;
};

TEST_F(ManualWorkerTest, StaleEpochsOtherRoundsAndDuplicatesAreDropped) {
  std::unique_ptr<JobExecutor> job = Admit("j1", 2, 2);
  absl::StatusOr<std::vector<runner::SegmentResult>> results;
  std::thread round = StartRound("j1", *job, results);
  const std::vector<v1::SegmentOrder> orders = TakeOrders(1);
  ASSERT_THAT(orders, SizeIs(2));
  Done(orders[0], -1.0);
  Done(orders[0], -2.0);                        // duplicate
  Done(orders[1], -3.0, /*epoch_shift=*/-1);    // superseded assignment
  Done(orders[1], -4.0, 0, /*round_shift=*/1);  // not this round
  v1::SegmentOrder unknown = orders[1];
  unknown.set_job_id("j-other");
  Done(unknown, -5.0);
  unknown = orders[1];
  unknown.set_replica(7);
  Done(unknown, -6.0);
  Done(orders[1], -7.0);  // the one that counts: completes the round
  round.join();
  ASSERT_TRUE(results.ok()) << results.status();
  EXPECT_EQ((*results)[0].potential_kj_mol, -1.0);
  EXPECT_EQ((*results)[1].potential_kj_mol, -7.0);
  // A late duplicate after the round closed changes nothing either.
  Done(orders[1], -8.0);
  ASSERT_TRUE(drivers_.at("j1")->Complete(*results).ok());
}

// An adaptive ladder's version reaches the worker before the orders that
// name it; the orders carry the rung's temperature too, for workers
// of an earlier release. Such a worker would run a version's parameters as
// the spec's, so a result that does not echo the version fails the round,
// naming the worker and what to do.
TEST_F(ManualWorkerTest, LadderVersionsGoBeforeTheirOrdersAndAreEchoed) {
  std::unique_ptr<JobExecutor> job = Admit("adaptive", 2, 4, true);
  std::vector<exchange::Rung> rungs =
      spec::BuildLadder(spec_.ladder())->rungs();
  for (exchange::Rung& rung : rungs) {
    rung.temperature_k += 5;
    rung.parameters[0] += 0.05;
  }
  auto version = std::make_shared<const exchange::Ladder>(
      *exchange::Ladder::Create({"lambda"}, rungs));
  std::vector<runner::SegmentOrder> orders =
      drivers_.at("adaptive")->Orders(false);
  for (runner::SegmentOrder& order : orders) {
    order.ladder = version;
    order.ladder_version = 2;
  }
  absl::StatusOr<std::vector<runner::SegmentResult>> results;
  std::thread round([&] { results = job->RunSegments(orders); });
  std::vector<v1::CoordinatorMessage> sent;
  std::vector<v1::CoordinatorMessage> batch;
  while ((sent.empty() || !sent.back().has_segment_orders()) &&
         registry_.NextOutgoing(key_, &batch)) {
    sent.insert(sent.end(), batch.begin(), batch.end());
  }
  ASSERT_GE(sent.size(), 2u);
  const v1::CoordinatorMessage& update = sent[sent.size() - 2];
  ASSERT_TRUE(update.has_ladder_update()) << update.DebugString();
  EXPECT_EQ(update.ladder_update().version(), 2);
  EXPECT_THAT(update.ladder_update().temperatures_k(), ElementsAre(305, 315));
  EXPECT_THAT(update.ladder_update().parameters(),
              ElementsAre(rungs[0].parameters[0], rungs[1].parameters[0]));
  const auto& out = sent.back().segment_orders().orders();
  ASSERT_THAT(out, SizeIs(2));
  for (const v1::SegmentOrder& order : out) {
    EXPECT_EQ(order.ladder_version(), 2);
    EXPECT_EQ(order.temperature_k(), rungs[order.rung()].temperature_k);
  }
  v1::WorkerMessage echoed;
  v1::SegmentDone& done = *echoed.mutable_segment_done();
  done.set_job_id("adaptive");
  done.set_replica(0);
  done.set_round(out[0].round());
  done.set_epoch(out[0].epoch());
  done.set_ladder_version(2);
  done.add_reduced(0);
  done.add_reduced(0);
  registry_.Receive(key_, echoed);
  Done(out[1], -1.0);  // an earlier release's worker: no echo
  round.join();
  EXPECT_EQ(results.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(results.status().message(),
              HasSubstr("ran replica 1's round 0 without version 2 of the "
                        "job's adaptive ladder"));
  EXPECT_THAT(results.status().message(), HasSubstr("upgrade it"));
}

TEST_F(ManualWorkerTest, ASegmentFailureFailsTheRound) {
  for (const bool invalid_input : {true, false}) {
    const std::string id = invalid_input ? "bad-input" : "crash";
    std::unique_ptr<JobExecutor> job = Admit(id, 2, 2);
    absl::StatusOr<std::vector<runner::SegmentResult>> results;
    std::thread round = StartRound(id, *job, results);
    const std::vector<v1::SegmentOrder> orders = TakeOrders(1);
    ASSERT_THAT(orders, SizeIs(2));
    v1::WorkerMessage message;
    v1::SegmentFailed& failed = *message.mutable_segment_failed();
    failed.set_job_id(id);
    failed.set_replica(1);
    failed.set_round(0);
    failed.set_epoch(orders[1].epoch());
    failed.set_error("System XML: no such force 'Foo'");
    failed.set_invalid_input(invalid_input);
    registry_.Receive(key_, message);
    round.join();
    if (invalid_input) {
      EXPECT_EQ(results.status(),
                absl::InvalidArgumentError("System XML: no such force 'Foo'"));
    } else {
      // Not the job's fault: it rolls back and restarts replica 1.
      EXPECT_EQ(results.status().code(), absl::StatusCode::kAborted);
      EXPECT_THAT(results.status().message(),
                  HasSubstr("replica 1 failed in round 0 on worker manual#"));
      EXPECT_EQ(FaultyReplica(results.status()), 1);
    }
  }
}

TEST_F(ManualWorkerTest, ReleasingAJobUnblocksItsRoundAndUnloadsIt) {
  std::unique_ptr<JobExecutor> job = Admit("j1", 2, 2);
  absl::StatusOr<std::vector<runner::SegmentResult>> results;
  std::thread round = StartRound("j1", *job, results);
  const std::vector<v1::SegmentOrder> orders = TakeOrders(1);
  Done(orders[0], -1.0);
  job->Release(absl::CancelledError("cancelled by the test"));
  round.join();
  EXPECT_EQ(results.status(), absl::CancelledError("cancelled by the test"));
  std::vector<v1::CoordinatorMessage> out;
  ASSERT_TRUE(registry_.NextOutgoing(key_, &out));
  ASSERT_THAT(out, SizeIs(1));
  EXPECT_EQ(out[0].unload_job().job_id(), "j1");
  EXPECT_EQ(Hosted()["manual"], 0);
  Done(orders[1], -2.0);  // too late: harmless
  // Its places are free for another job at once.
  EXPECT_NE(Admit("j2", 8, 1), nullptr);
}

TEST_F(ManualWorkerTest, AReplicaHandedBackWithoutItsStateFailsTheRound) {
  std::unique_ptr<JobExecutor> job = Admit("j1", 2, 3);
  AnswerRound("j1", *job);
  absl::StatusOr<std::vector<runner::SegmentResult>> results;

  FakeWorker other(&registry_, "other", 1, 8);  // replica 1 moves there
  std::thread round = StartRound("j1", *job, results);
  const std::vector<v1::CoordinatorMessage> releases =
      Take(v1::CoordinatorMessage::kReleaseReplica, 1);
  ASSERT_THAT(releases, SizeIs(1));
  EXPECT_EQ(releases[0].release_replica().replica(), 1);
  HandBack(releases[0].release_replica(), "");
  round.join();
  EXPECT_EQ(results.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(results.status().message(), HasSubstr("without its state"));
  EXPECT_EQ(other.segments_run(), 0);
}

// A worker that leaves in the middle of a rebalance (its replica's state not
// yet handed over) fails the round with a rollback, never a crash or a hang;
// the reloaded job then runs on the worker that is left.
TEST_F(ManualWorkerTest, TheReleasingWorkerLeavingMidRebalanceRollsBack) {
  std::unique_ptr<JobExecutor> job = Admit("j1", 2, 3);
  AnswerRound("j1", *job);
  absl::StatusOr<std::vector<runner::SegmentResult>> results;

  // This worker drains: both replicas move to `other`, and the round waits
  // for their states, which never come. Nothing of the job is loaded here
  // any more, only handed back.
  FakeWorker other(&registry_, "other", 1, 8);
  v1::WorkerMessage goodbye;
  goodbye.mutable_goodbye();
  registry_.Receive(key_, goodbye);
  std::thread round = StartRound("j1", *job, results);
  ASSERT_THAT(Take(v1::CoordinatorMessage::kReleaseReplica, 2), SizeIs(2));
  EXPECT_EQ(registry_.Disconnect(key_).code(), absl::StatusCode::kCancelled);
  round.join();
  EXPECT_EQ(results.status().code(), absl::StatusCode::kUnavailable)
      << results.status();
  EXPECT_THAT(results.status().message(), HasSubstr("worker manual lost"));
  EXPECT_TRUE(CallsForRollback(results.status()));

  ASSERT_TRUE(job->Reload(std::vector<JobExecutor::ReplicaStart>(2)).ok());
  round = StartRound("j1", *job, results);
  round.join();
  ASSERT_TRUE(results.ok()) << results.status();
  EXPECT_THAT(other.hosted(), SizeIs(2));
}

TEST_F(ManualWorkerTest, TheReceivingWorkerLeavingMidRebalanceIsSurvived) {
  std::unique_ptr<JobExecutor> job = Admit("j1", 2, 3);
  AnswerRound("j1", *job);
  absl::StatusOr<std::vector<runner::SegmentResult>> results;

  auto other = std::make_unique<FakeWorker>(&registry_, "other", 1, 8);
  std::thread round = StartRound("j1", *job, results);
  const std::vector<v1::CoordinatorMessage> releases =
      Take(v1::CoordinatorMessage::kReleaseReplica, 1);
  ASSERT_THAT(releases, SizeIs(1));
  // The replica's new host leaves before its state arrives. It hosted
  // nothing yet, so no result is lost: the round goes on, the replica
  // loads back here from the state handed over.
  EXPECT_TRUE(other->Leave().ok());  // a clean leave: it held no state
  HandBack(releases[0].release_replica(), "state of replica 1");
  // Then the replica loads back here, and the round's orders follow.
  std::vector<v1::CoordinatorMessage> received, batch;
  while ((received.empty() || !received.back().has_segment_orders()) &&
         registry_.NextOutgoing(key_, &batch)) {
    received.insert(received.end(), batch.begin(), batch.end());
  }
  ASSERT_THAT(received, Not(IsEmpty()));
  const auto load = std::find_if(
      received.begin(), received.end(),
      [](const v1::CoordinatorMessage& m) { return m.has_load_replica(); });
  ASSERT_NE(load, received.end());
  EXPECT_EQ(load->load_replica().replica(), 1);
  EXPECT_EQ(load->load_replica().state(), "state of replica 1");
  const std::vector<v1::SegmentOrder> orders(
      received.back().segment_orders().orders().begin(),
      received.back().segment_orders().orders().end());
  ASSERT_THAT(orders, SizeIs(2));
  for (const v1::SegmentOrder& order : orders) Done(order, -3.0);
  round.join();
  EXPECT_TRUE(results.ok()) << results.status();
}

TEST_F(ManualWorkerTest, ShutdownEndsSessionsAndRounds) {
  std::unique_ptr<JobExecutor> job = Admit("j1", 2, 2);
  absl::StatusOr<std::vector<runner::SegmentResult>> results;
  std::thread round = StartRound("j1", *job, results);
  TakeOrders(1);
  registry_.Shutdown();
  round.join();
  EXPECT_EQ(results.status().code(), absl::StatusCode::kUnavailable);
  std::vector<v1::CoordinatorMessage> out;
  EXPECT_FALSE(registry_.NextOutgoing(key_, &out));
  EXPECT_EQ(registry_.Disconnect(key_).code(), absl::StatusCode::kUnavailable);
}

// Asynchronous exchange through RemoteExecutor's SegmentStream: segments go
// out one replica at a time and come back as they finish; a worker that
// joins mid-run gets replicas only at the next barrier (none of the job's
// segments running), where States hands back each replica's latest state.
TEST_F(WorkerRegistryTest, AsynchronousSegmentsMoveOnlyAtBarriers) {
  FakeWorker a(&registry_, "a", 2, 8);
  std::unique_ptr<JobExecutor> executor = AdmitAsynchronous("j1", 4, 10);
  ASSERT_TRUE(executor);
  runner::SegmentStream* stream = executor->Stream();
  ASSERT_NE(stream, nullptr);

  std::unique_ptr<FakeWorker> b;
  int barriers = 0;
  runner::AsynchronousOptions options;
  options.segments = 40;
  bool barrier_asked = false;
  options.barrier_due = [&](int64_t finished) {
    return finished >= 20 && !std::exchange(barrier_asked, true);
  };
  absl::StatusOr<runner::AsynchronousRun> run = RunAsynchronously(
      "j1", *executor, options, [&](const runner::ExchangeEvent& event) {
        const int64_t finished = runner::SegmentsFinished(event.run);
        if (b == nullptr && finished >= 8) {
          b = std::make_unique<FakeWorker>(&registry_, "b", 2, 8);
        }
        if (!event.barrier) {
          // Segments run: nothing moves to the new worker.
          if (b != nullptr && barriers == 0) {
            EXPECT_THAT(b->hosted(), IsEmpty());
          }
          return absl::OkStatus();
        }
        ++barriers;
        absl::StatusOr<std::vector<std::string>> states = stream->States();
        if (!states.ok()) return states.status();
        for (int r = 0; r < 4; ++r) {
          // The fake's state names the last segment the replica ran.
          EXPECT_EQ((*states)[r],
                    absl::StrCat("state of j1/", r, " after round ",
                                 event.run.segments_by_replica[r] - 1));
        }
        return absl::OkStatus();
      });
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(runner::SegmentsFinished(*run), 40);
  EXPECT_EQ(barriers, 2);  // the one asked for and the end
  ASSERT_NE(b, nullptr);
  EXPECT_GT(b->segments_run(), 0);
  EXPECT_EQ(a.segments_run() + b->segments_run(), 40);
  EXPECT_EQ(a.bad_orders() + b->bad_orders(), 0);
  EXPECT_EQ(executor->workers(), 2);
}

// A worker that says Goodbye under asynchronous exchange hands its
// replicas back at the barrier its draining calls for (the job manager asks
// for one while HostDraining), not at the job's end.
TEST_F(WorkerRegistryTest, ADrainingWorkerUnderAsynchronousExchangeIsEmptied) {
  FakeWorker a(&registry_, "a", 2, 8), b(&registry_, "b", 2, 8);
  std::unique_ptr<JobExecutor> executor = AdmitAsynchronous("j1", 4, 50);
  ASSERT_TRUE(executor);
  runner::AsynchronousOptions options;
  options.segments = 200;
  options.barrier_due = [&](int64_t) { return executor->HostDraining(); };
  int64_t emptied_at = -1;
  absl::StatusOr<runner::AsynchronousRun> run = RunAsynchronously(
      "j1", *executor, options, [&](const runner::ExchangeEvent& event) {
        const int64_t finished = runner::SegmentsFinished(event.run);
        if (finished >= 20 && finished < 40) b.SayGoodbye();
        if (emptied_at < 0 && finished >= 20 && !executor->HostDraining()) {
          emptied_at = finished;
        }
        return absl::OkStatus();
      });
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_GE(emptied_at, 20);
  EXPECT_LT(emptied_at, 60);
  EXPECT_THAT(b.hosted(), IsEmpty());
  EXPECT_EQ(a.segments_run() + b.segments_run(), 200);
  EXPECT_EQ(a.bad_orders() + b.bad_orders(), 0);
}

// Under asynchronous exchange orders go out one at a time after the
// placement at a barrier: a worker lost between the first Start (which
// placed every replica) and the Start of a replica it was given, holding
// none of its state yet, must still roll the job back, not fail it or leave
// the segment unsent.
TEST_F(WorkerRegistryTest,
       AWorkerLostBetweenAsynchronousStartsCallsForRollback) {
  FakeWorker a(&registry_, "a", 2, 8), b(&registry_, "b", 2, 8);
  std::unique_ptr<JobExecutor> executor = AdmitAsynchronous("j1", 4, 10);
  ASSERT_TRUE(executor);
  runner::SegmentStream& stream = *executor->Stream();
  const runner::RoundDriver& driver = *drivers_.at("j1");
  // Places all four: 0 and 1 on a, 2 and 3 on b (PlaceReplicas deals
  // shares, then fills them in worker order); only 0 is loaded.
  stream.Start(driver.OrderFor(0, 0));
  ASSERT_TRUE(b.Leave().ok());  // it held none of the job's state
  for (int r = 1; r < 4; ++r) stream.Start(driver.OrderFor(r, 0));
  int failed = 0;
  for (int k = 0; k < 4; ++k) {
    const runner::SegmentStream::Finished finished = stream.Next();
    if (finished.result.ok()) continue;
    ++failed;
    EXPECT_TRUE(CallsForRollback(finished.result.status()))
        << finished.result.status();
  }
  EXPECT_GE(failed, 2);  // replicas 2 and 3 at least
  EXPECT_EQ(b.segments_run(), 0);
}

// A worker lost mid-run fails every segment out with the loss, which keeps
// its rollback tag through RunAsynchronously: the job rolls back.
TEST_F(WorkerRegistryTest,
       AWorkerLostUnderAsynchronousExchangeCallsForRollback) {
  FakeWorker a(&registry_, "a", 2, 8);
  std::unique_ptr<JobExecutor> executor = AdmitAsynchronous("j1", 4, 50);
  ASSERT_TRUE(executor);
  runner::AsynchronousOptions options;
  options.segments = 200;
  absl::StatusOr<runner::AsynchronousRun> run = RunAsynchronously(
      "j1", *executor, options, [&](const runner::ExchangeEvent& event) {
        if (runner::SegmentsFinished(event.run) >= 20) a.Leave().IgnoreError();
        return absl::OkStatus();
      });
  ASSERT_FALSE(run.ok());
  EXPECT_TRUE(CallsForRollback(run.status())) << run.status();
  EXPECT_THAT(run.status().message(), HasSubstr("worker a lost"));
  // Asynchronous results are wanted as each segment ends, never held. At
  // least the 20 segments that finished were ordered from a.
  int orders = 0;
  for (const v1::CoordinatorMessage& message : a.received()) {
    for (const v1::SegmentOrder& order : message.segment_orders().orders()) {
      EXPECT_FALSE(order.batch_result());
      ++orders;
    }
  }
  EXPECT_GE(orders, 20);
}

}  // namespace
}  // namespace replex::coordinator
