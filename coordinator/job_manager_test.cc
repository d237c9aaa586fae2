// JobManager over a fake pool (whose executors answer at once or wait at a
// gate the test opens), and over the real registry with fake workers.
#include "coordinator/job_manager.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "coordinator/checkpoint_recovery.h"
#include "coordinator/testing/fake_worker.h"
#include "coordinator/worker_registry.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/spec/spec.h"
#include "lib/store/checkpoint_store.h"
#include "lib/store/in_memory_journal.h"
#include "lib/timing/testing/fake_clock.h"

namespace replex::coordinator {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::MatchesRegex;
using ::testing::SizeIs;

// Room per platform; executors hand their room back when released.
class FakePool : public ReplicaPool {
 public:
  absl::StatusOr<std::unique_ptr<JobExecutor>> Admit(
      const std::string&, std::shared_ptr<const v1::JobSpec> spec,
      int n_replicas) override {
    absl::MutexLock lock(&mu_);
    int& room = room_[spec->platform()];
    if (room < n_replicas) {
      return absl::ResourceExhaustedError(
          absl::StrCat("no room for ", n_replicas, " replicas"));
    }
    room -= n_replicas;
    return std::make_unique<Executor>(this, spec->platform(), n_replicas);
  }
  void SetCapacityListener(std::function<void()> listener) override {
    absl::MutexLock lock(&mu_);
    listener_ = std::move(listener);
  }

  void AddRoom(int n, const std::string& platform = "CPU") {
    std::function<void()> listener;
    {
      absl::MutexLock lock(&mu_);
      room_[platform] += n;
      listener = listener_;
    }
    if (listener) listener();
  }
  int room(const std::string& platform = "CPU") {
    absl::MutexLock lock(&mu_);
    return room_[platform];
  }
  // While the gate is closed, RunSegments waits (until opened or released).
  void SetGate(bool open) {
    absl::MutexLock lock(&mu_);
    gate_open_ = open;
  }
  // Blocks until `n` RunSegments calls wait at the closed gate.
  void AwaitWaiting(int n) {
    absl::MutexLock lock(&mu_);
    awaited_ = n;
    mu_.Await(absl::Condition(this, &FakePool::EnoughWaiting));
  }
  void FailRounds(absl::Status status) {
    absl::MutexLock lock(&mu_);
    fail_ = std::move(status);
  }
  // Each RunSegments of a round fails with what `fault` returns for it
  // (when not OK).
  void SetFault(std::function<absl::Status(int64_t round)> fault) {
    absl::MutexLock lock(&mu_);
    fault_ = std::move(fault);
  }

 private:
  class Executor : public JobExecutor {
   public:
    Executor(FakePool* pool, std::string platform, int n)
        : pool_(pool), platform_(std::move(platform)), n_(n) {}
    ~Executor() override { Release(absl::CancelledError("ended")); }

    absl::StatusOr<std::vector<runner::SegmentResult>> RunSegments(
        const std::vector<runner::SegmentOrder>& orders) override {
      absl::MutexLock lock(&pool_->mu_);
      ++pool_->waiting_;
      pool_->mu_.Await(absl::Condition(this, &Executor::MayGo));
      --pool_->waiting_;
      if (released_.has_value()) return *released_;
      if (!pool_->fail_.ok()) return pool_->fail_;
      if (pool_->fault_ && !orders.empty()) {
        if (absl::Status fault = pool_->fault_(orders[0].round); !fault.ok()) {
          return fault;
        }
      }
      std::vector<runner::SegmentResult> results;
      for (const runner::SegmentOrder& order : orders) {
        runner::SegmentResult result;
        result.potential_kj_mol = FakePotential(order.replica, order.round);
        for (int rung : order.evaluate_rungs) {
          result.reduced.push_back(
              FakeReduced(order.replica, order.round, rung));
        }
        results.push_back(result);
      }
      return results;
    }
    void Release(const absl::Status& why) override {
      absl::MutexLock lock(&pool_->mu_);
      if (released_.has_value()) return;
      released_ = why;
      pool_->room_[platform_] += n_;
    }
    int workers() const override { return 1; }
    // Replicas here hold no state to reload.
    absl::Status Reload(const std::vector<ReplicaStart>&) override {
      return absl::OkStatus();
    }

   private:
    bool MayGo() const { return pool_->gate_open_ || released_.has_value(); }
    FakePool* const pool_;
    const std::string platform_;
    const int n_;
    std::optional<absl::Status> released_;  // guarded by pool_->mu_
  };

  bool EnoughWaiting() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return waiting_ >= awaited_;
  }

  absl::Mutex mu_;
  int awaited_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, int> room_ ABSL_GUARDED_BY(mu_);
  std::function<void()> listener_ ABSL_GUARDED_BY(mu_);
  bool gate_open_ ABSL_GUARDED_BY(mu_) = true;
  int waiting_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status fail_ ABSL_GUARDED_BY(mu_);
  std::function<absl::Status(int64_t)> fault_ ABSL_GUARDED_BY(mu_);
};

// Every event of a watch until it ends; fails the test rather than hang.
std::vector<v1::JobEvent> Drain(JobWatch& watch) {
  std::vector<v1::JobEvent> events;
  std::shared_ptr<const v1::JobEvent> event;
  while (true) {
    switch (watch.Take(&event, absl::Seconds(30))) {
      case JobWatch::Next::kEvent:
        events.push_back(*event);
        break;
      case JobWatch::Next::kEnded:
        return events;
      case JobWatch::Next::kTimeout:
        ADD_FAILURE() << "the watch went quiet";
        return events;
      case JobWatch::Next::kLater:  // TakeRounds only
        ADD_FAILURE() << "Take answered kLater";
        return events;
    }
  }
}

class JobManagerTest : public ::testing::Test {
 protected:
  // Waits for the job to end, through a watch.
  v1::Job Finish(const std::string& id) {
    absl::StatusOr<std::shared_ptr<JobWatch>> watch = jobs_.Watch(id);
    EXPECT_TRUE(watch.ok());
    Drain(**watch);
    return *jobs_.Get(id);
  }

  FakePool pool_;
  timing::testing::FakeClock clock_;
  JobManager jobs_{&pool_, &clock_, /*id_seed=*/42};
};

TEST_F(JobManagerTest, AJobGoesFromQueuedThroughRunningToSucceeded) {
  absl::StatusOr<std::string> id = jobs_.Submit(TestSpec(4, 5));
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_THAT(*id, MatchesRegex("j[0-9a-f]{12}"));
  v1::Job job = *jobs_.Get(*id);
  EXPECT_EQ(job.state(), v1::QUEUED);
  EXPECT_EQ(job.error(), "");
  EXPECT_EQ(job.name(), "test");
  EXPECT_EQ(job.n_replicas(), 4);
  EXPECT_EQ(job.n_rounds(), 5);
  EXPECT_THAT(job.temperatures_k(), ElementsAre(300, 310, 320, 330));
  EXPECT_EQ(job.scheme(), "neighbors");
  EXPECT_EQ(job.platform(), "CPU");
  EXPECT_THAT(job.pairs(), SizeIs(3));
  EXPECT_THAT(job.rung_of_replica(), ElementsAre(0, 1, 2, 3));
  EXPECT_EQ(job.created().seconds(), 1700000000);

  absl::StatusOr<std::shared_ptr<JobWatch>> watch = jobs_.Watch(*id);
  ASSERT_TRUE(watch.ok());
  clock_.Advance(absl::Seconds(10));
  pool_.AddRoom(4);
  const std::vector<v1::JobEvent> events = Drain(**watch);
  EXPECT_THAT(DescribeEvents(events),
              ElementsAre("QUEUED", "RUNNING", "round 0", "round 1", "round 2",
                          "round 3", "round 4", "SUCCEEDED"));
  EXPECT_TRUE((*watch)->end_status().ok());
  for (const v1::JobEvent& event : events) EXPECT_EQ(event.job_id(), *id);
  EXPECT_THAT(events[2].round().rung_of_replica(), SizeIs(4));
  EXPECT_THAT(events[2].round().pair_attempts(), ElementsAre(1, 0, 1));

  job = *jobs_.Get(*id);
  EXPECT_EQ(job.state(), v1::SUCCEEDED);
  EXPECT_EQ(job.rounds_completed(), 5);
  EXPECT_EQ(job.pairs(0).attempts(), 3);  // rounds 0, 2 and 4
  EXPECT_EQ(job.started().seconds(), 1700000010);
  EXPECT_EQ(job.finished().seconds(), 1700000010);
  EXPECT_EQ(job.workers(), 1);
  EXPECT_EQ(events.back().snapshot().rounds_completed(), 5);
  EXPECT_EQ(pool_.room(), 4);  // released
}

TEST_F(JobManagerTest, WatchingAnEndedJobGivesItsFinalSnapshot) {
  pool_.AddRoom(2);
  const std::string id = *jobs_.Submit(TestSpec(2, 3));
  Finish(id);
  absl::StatusOr<std::shared_ptr<JobWatch>> watch = jobs_.Watch(id);
  ASSERT_TRUE(watch.ok());
  EXPECT_THAT(DescribeEvents(Drain(**watch)), ElementsAre("SUCCEEDED"));
  EXPECT_TRUE((*watch)->end_status().ok());
}

TEST_F(JobManagerTest, UnknownIdsAreNotFound) {
  const absl::Status expected =
      absl::NotFoundError("no job 'jnope': list jobs with `replexctl list`");
  EXPECT_EQ(jobs_.Get("jnope").status(), expected);
  EXPECT_EQ(jobs_.Cancel("jnope").status(), expected);
  EXPECT_EQ(jobs_.Watch("jnope").status(), expected);
}

TEST_F(JobManagerTest, InvalidSpecsAreRefusedWithTheField) {
  v1::JobSpec spec = TestSpec(2, 3);
  spec.mutable_exchange()->set_steps_per_exchange(0);
  absl::StatusOr<std::string> id = jobs_.Submit(spec);
  EXPECT_EQ(id.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(id.status().message(), HasSubstr("exchange.steps_per_exchange"));
  EXPECT_THAT(jobs_.List({}), IsEmpty());
}

// A pool without a SegmentStream (JobExecutor::Stream) cannot run
// asynchronous exchange: the job fails saying so, naming the field.
TEST_F(JobManagerTest,
       AsynchronousExchangeOnAPoolThatCannotFailsNamingTheField) {
  pool_.AddRoom(2);
  v1::JobSpec spec = TestSpec(2, 3);
  spec.mutable_exchange()->set_mode(v1::Exchange::ASYNCHRONOUS);
  const v1::Job job = Finish(*jobs_.Submit(spec));
  EXPECT_EQ(job.state(), v1::FAILED);
  EXPECT_THAT(job.error(), HasSubstr("exchange.mode: this coordinator's"));
  EXPECT_EQ(pool_.room(), 2);
}

TEST_F(JobManagerTest, CancellingAQueuedJobIsFinalAndIdempotent) {
  const std::string id = *jobs_.Submit(TestSpec(2, 3));
  clock_.Advance(absl::Seconds(3));
  absl::StatusOr<v1::Job> cancelled = jobs_.Cancel(id);
  ASSERT_TRUE(cancelled.ok());
  EXPECT_EQ(cancelled->state(), v1::CANCELLED);
  EXPECT_EQ(cancelled->finished().seconds(), 1700000003);
  clock_.Advance(absl::Seconds(3));
  absl::StatusOr<v1::Job> again = jobs_.Cancel(id);
  EXPECT_EQ(again->SerializeAsString(), cancelled->SerializeAsString());
  pool_.AddRoom(2);  // too late: it stays cancelled
  EXPECT_EQ(jobs_.Get(id)->state(), v1::CANCELLED);
  EXPECT_EQ(pool_.room(), 2);
}

TEST_F(JobManagerTest, CancellingARunningJobFreesItsPlacesAtOnce) {
  pool_.AddRoom(4);
  pool_.SetGate(false);
  const std::string first = *jobs_.Submit(TestSpec(4, 3));
  const std::string second = *jobs_.Submit(TestSpec(4, 3));
  EXPECT_EQ(jobs_.Get(first)->state(), v1::RUNNING);
  EXPECT_EQ(jobs_.Get(second)->state(), v1::QUEUED);
  absl::StatusOr<std::shared_ptr<JobWatch>> watch = jobs_.Watch(first);
  pool_.AwaitWaiting(1);

  absl::StatusOr<v1::Job> cancelled = jobs_.Cancel(first);
  ASSERT_TRUE(cancelled.ok());
  EXPECT_EQ(cancelled->state(), v1::CANCELLED);
  EXPECT_THAT(DescribeEvents(Drain(**watch)),
              ElementsAre("RUNNING", "CANCELLED"));
  // The freed places went straight to the queued job.
  EXPECT_EQ(jobs_.Get(second)->state(), v1::RUNNING);
  pool_.SetGate(true);
  EXPECT_EQ(Finish(second).state(), v1::SUCCEEDED);
  EXPECT_EQ(jobs_.Get(first)->state(), v1::CANCELLED);
  EXPECT_EQ(jobs_.Get(first)->rounds_completed(), 0);
}

v1::JobSpec OwnedSpec(const std::string& owner, int n) {
  v1::JobSpec spec = TestSpec(n, 1);
  spec.set_owner(owner);
  return spec;
}

// Owners running the fewest replicas go first; within an owner, submission
// order.
TEST_F(JobManagerTest, QueuedJobsStartFairShareBetweenOwners) {
  pool_.SetGate(false);
  pool_.AddRoom(2);
  const std::string a1 = *jobs_.Submit(OwnedSpec("alice", 2));
  const std::string a2 = *jobs_.Submit(OwnedSpec("alice", 2));
  const std::string b1 = *jobs_.Submit(OwnedSpec("bob", 2));
  EXPECT_EQ(jobs_.Get(a1)->state(), v1::RUNNING);
  pool_.AddRoom(2);
  EXPECT_EQ(jobs_.Get(b1)->state(), v1::RUNNING);
  EXPECT_EQ(jobs_.Get(a2)->state(), v1::QUEUED);
  pool_.SetGate(true);
  EXPECT_EQ(Finish(a2).state(), v1::SUCCEEDED);
}

class JobManagerQuotaTest : public JobManagerTest {
 protected:
  static JobScheduling Quotas() {
    JobScheduling scheduling;
    scheduling.max_running_replicas_per_owner = 4;
    scheduling.max_queued_jobs_per_owner = 2;
    return scheduling;
  }
  JobManager quota_jobs_{&pool_, &clock_, 43, {}, {}, Quotas()};
};

TEST_F(JobManagerQuotaTest,
       AnOwnerRunsAtMostItsReplicasAndQueuesAtMostItsJobs) {
  pool_.SetGate(false);
  pool_.AddRoom(16);
  const std::string a1 = *quota_jobs_.Submit(OwnedSpec("alice", 4));
  const std::string a2 = *quota_jobs_.Submit(OwnedSpec("alice", 2));
  const std::string b1 = *quota_jobs_.Submit(OwnedSpec("bob", 2));
  EXPECT_EQ(quota_jobs_.Get(a1)->state(), v1::RUNNING);
  EXPECT_EQ(quota_jobs_.Get(a2)->state(), v1::QUEUED);
  EXPECT_EQ(quota_jobs_.Get(a2)->queue_reason(),
            "owner \"alice\" runs 4 replicas; with this job's 2 that would "
            "pass the 4 one owner may run at once "
            "(--max_running_replicas_per_owner)");
  EXPECT_EQ(quota_jobs_.Get(b1)->state(), v1::RUNNING);

  ASSERT_TRUE(quota_jobs_.Submit(OwnedSpec("alice", 2)).ok());
  absl::StatusOr<std::string> third = quota_jobs_.Submit(OwnedSpec("alice", 2));
  EXPECT_EQ(third.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(third.status().message(), HasSubstr("already has 2 jobs queued"));
  absl::StatusOr<std::string> huge = quota_jobs_.Submit(OwnedSpec("bob", 8));
  EXPECT_EQ(huge.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(huge.status().message(),
              HasSubstr("8 replicas, more than the 4"));

  // Alice's first job ending lets her next one start.
  pool_.SetGate(true);
  absl::StatusOr<std::shared_ptr<JobWatch>> watch = quota_jobs_.Watch(a2);
  ASSERT_TRUE(watch.ok());
  Drain(**watch);
  EXPECT_EQ(quota_jobs_.Get(a2)->state(), v1::SUCCEEDED);
}

TEST_F(JobManagerTest, AFailedRoundFailsTheJobWithItsReason) {
  pool_.AddRoom(2);
  pool_.FailRounds(absl::InternalError("replica 1 failed in round 0: NaN"));
  const std::string id = *jobs_.Submit(TestSpec(2, 3));
  const v1::Job job = Finish(id);
  EXPECT_EQ(job.state(), v1::FAILED);
  EXPECT_EQ(job.error(), "replica 1 failed in round 0: NaN");
  EXPECT_EQ(pool_.room(), 2);
}

// A job that takes down every worker its replicas run on (a poison pill)
// fails after max_worker_losses (3) losses without progress, naming the
// cause; losses the job gets past between them never add up.
TEST_F(JobManagerTest, AJobThatKeepsLosingWorkersFailsWithTheCause) {
  pool_.AddRoom(2);
  int losses = 0;
  pool_.SetFault([&losses](int64_t round) {
    if (round != 2) return absl::OkStatus();
    ++losses;
    return WorkerLostError("worker w lost (its session ended)");
  });
  const std::string id = *jobs_.Submit(TestSpec(2, 5));
  const v1::Job job = Finish(id);
  EXPECT_EQ(job.state(), v1::FAILED);
  EXPECT_EQ(losses, 4);
  EXPECT_THAT(job.error(), HasSubstr("worker w lost"));
  EXPECT_THAT(job.error(), HasSubstr("lost workers holding its replicas 4 "
                                     "times without getting past round 2"));
  EXPECT_THAT(job.error(), HasSubstr("--max_worker_losses=3"));
  EXPECT_EQ(pool_.room(), 2);
}

TEST_F(JobManagerTest, WorkerLossesSpreadOverAJobsProgressDoNotAddUp) {
  pool_.AddRoom(2);
  // Two losses at the first try of each of rounds 1, 3 and 5: six in all
  // (each rolls back to round 0: no checkpoint store here), never more
  // than the limit before the job gets past the round.
  std::map<int64_t, int> tries;
  int losses = 0;
  pool_.SetFault([&](int64_t round) {
    if (round % 2 == 0 || ++tries[round] > 2) return absl::OkStatus();
    ++losses;
    return WorkerLostError("worker w lost (preempted)");
  });
  const std::string id = *jobs_.Submit(TestSpec(2, 7));
  const v1::Job job = Finish(id);
  EXPECT_EQ(job.state(), v1::SUCCEEDED) << job.error();
  EXPECT_EQ(job.rounds_completed(), 7);
  EXPECT_EQ(losses, 6);
}

// A job that does not fit holds no one back (backfill) while it has waited
// less than the backfill window; each job says why it waits.
TEST_F(JobManagerTest, SmallerJobsStartPastOneThatDoesNotFitYet) {
  pool_.SetGate(false);
  const std::string big = *jobs_.Submit(TestSpec(8, 1));
  const std::string small = *jobs_.Submit(TestSpec(2, 1));
  const std::string gpu = *jobs_.Submit(TestSpec(2, 1, false, "OpenCL"));
  pool_.AddRoom(4);
  pool_.AddRoom(2, "OpenCL");
  EXPECT_EQ(jobs_.Get(big)->state(), v1::QUEUED);
  EXPECT_EQ(jobs_.Get(big)->queue_reason(), "no room for 8 replicas");
  EXPECT_EQ(jobs_.Get(small)->state(), v1::RUNNING);
  EXPECT_EQ(jobs_.Get(gpu)->state(), v1::RUNNING);
  EXPECT_EQ(jobs_.Get(gpu)->queue_reason(), "");
  pool_.SetGate(true);
  EXPECT_EQ(Finish(small).state(), v1::SUCCEEDED);
  EXPECT_EQ(Finish(gpu).state(), v1::SUCCEEDED);
  EXPECT_EQ(jobs_.Get(big)->state(), v1::QUEUED);
}

// Once it has waited past the window, later jobs of its platform wait behind
// it, so the room ending jobs free goes to it.
TEST_F(JobManagerTest, PastTheBackfillWindowALargeJobGetsTheRoomFirst) {
  pool_.SetGate(false);
  const std::string big = *jobs_.Submit(TestSpec(8, 1));
  pool_.AddRoom(4);
  clock_.Advance(JobScheduling().backfill_window);
  const std::string small = *jobs_.Submit(TestSpec(2, 1));
  EXPECT_EQ(jobs_.Get(big)->queue_reason(), "no room for 8 replicas");
  EXPECT_EQ(jobs_.Get(small)->state(), v1::QUEUED);
  EXPECT_EQ(jobs_.Get(small)->queue_reason(),
            absl::StrCat("behind job ", big,
                         ", queued first for the CPU workers, which has "
                         "waited over 30m (--backfill_window): room goes to "
                         "it first"));
  absl::StatusOr<std::shared_ptr<JobWatch>> watch = jobs_.Watch(small);
  ASSERT_TRUE(watch.ok());
  pool_.AddRoom(4);
  EXPECT_EQ(jobs_.Get(big)->state(), v1::RUNNING);
  EXPECT_EQ(jobs_.Get(big)->queue_reason(), "");
  EXPECT_EQ(jobs_.Get(small)->state(), v1::QUEUED);
  // Now the big job holds the room: a watcher hears the new reason.
  EXPECT_EQ(jobs_.Get(small)->queue_reason(), "no room for 2 replicas");
  std::shared_ptr<const v1::JobEvent> event;
  ASSERT_EQ((*watch)->Take(&event, absl::Seconds(5)), JobWatch::Next::kEvent);
  ASSERT_EQ((*watch)->Take(&event, absl::Seconds(5)), JobWatch::Next::kEvent);
  EXPECT_EQ(event->snapshot().queue_reason(), "no room for 2 replicas");

  std::vector<std::string> listed;
  for (const v1::Job& job : jobs_.List({})) listed.push_back(job.job_id());
  EXPECT_THAT(listed, ElementsAre(big, small));
  listed.clear();
  for (const v1::Job& job : jobs_.List({v1::QUEUED, v1::SUCCEEDED})) {
    listed.push_back(job.job_id());
  }
  EXPECT_THAT(listed, ElementsAre(small));
  pool_.SetGate(true);
  EXPECT_EQ(Finish(small).state(), v1::SUCCEEDED);
}

TEST_F(JobManagerTest, IdsComeFromTheSeed) {
  FakePool pool;
  JobManager same_seed(&pool, &clock_, 42);
  EXPECT_EQ(*same_seed.Submit(TestSpec(2, 1)), *jobs_.Submit(TestSpec(2, 1)));
}

TEST_F(JobManagerTest, ShutdownEndsWatchesAndLeavesJobsAsTheyAre) {
  pool_.AddRoom(2);
  pool_.SetGate(false);
  const std::string id = *jobs_.Submit(TestSpec(2, 3));
  absl::StatusOr<std::shared_ptr<JobWatch>> watch = jobs_.Watch(id);
  pool_.AwaitWaiting(1);
  jobs_.Shutdown();
  Drain(**watch);
  EXPECT_EQ((*watch)->end_status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(jobs_.Get(id)->state(), v1::RUNNING);
  EXPECT_EQ(jobs_.Submit(TestSpec(2, 1)).status().code(),
            absl::StatusCode::kUnavailable);
}

// The real registry with fake workers behind the manager.
class JobManagerWithWorkersTest : public ::testing::Test {
 protected:
  timing::testing::FakeClock clock_;
  WorkerRegistry registry_{WorkerRegistry::Options(), &clock_};
  JobManager jobs_{&registry_, &clock_, 7};
};

TEST_F(JobManagerWithWorkersTest, AJobWaitsForAWorkerOfItsPlatform) {
  FakeWorker gpu(&registry_, "gpu", 1, 16, "OpenCL");
  const std::string id = *jobs_.Submit(TestSpec(4, 6, true));
  absl::StatusOr<std::shared_ptr<JobWatch>> watch = jobs_.Watch(id);
  EXPECT_EQ(jobs_.Get(id)->state(), v1::QUEUED);
  EXPECT_EQ(jobs_.Get(id)->error(), "");

  FakeWorker cpu(&registry_, "cpu", 2, 16);
  const std::vector<v1::JobEvent> events = Drain(**watch);
  EXPECT_THAT(events, SizeIs(1 + 1 + 6 + 1));
  const v1::Job job = *jobs_.Get(id);
  EXPECT_EQ(job.state(), v1::SUCCEEDED) << job.error();
  EXPECT_EQ(job.workers(), 1);
  EXPECT_EQ(gpu.segments_run(), 0);
  EXPECT_EQ(cpu.segments_run(), 24);
  // The last round event carries the same running totals as the job.
  const v1::RoundEvent& last = events[events.size() - 2].round();
  EXPECT_EQ(last.round(), 5);
  EXPECT_EQ(last.round_trips(), job.round_trips());
  EXPECT_EQ(last.ns_per_day(), job.ns_per_day());
}

TEST_F(JobManagerWithWorkersTest, ALostWorkerRollsItsJobsBackAndTheyGoOn) {
  FakeWorker a(&registry_, "a", 1, 16);
  auto b = std::make_unique<FakeWorker>(&registry_, "b", 1, 16);
  // Enough rounds that the job is still running when b goes.
  constexpr int kRounds = 3000;
  const std::string id = *jobs_.Submit(TestSpec(4, kRounds));
  absl::StatusOr<std::shared_ptr<JobWatch>> watch = jobs_.Watch(id);
  std::shared_ptr<const v1::JobEvent> event;
  while ((*watch)->Take(&event, absl::Seconds(30)) == JobWatch::Next::kEvent &&
         !event->has_round()) {
  }
  EXPECT_EQ(b->Leave().code(), absl::StatusCode::kCancelled);
  // Rounds go back to the last cut (round 0: no checkpoint store here) and
  // then on; each round is published as it completes.
  int64_t expected = 1, rollbacks = 0;
  while ((*watch)->Take(&event, absl::Seconds(30)) == JobWatch::Next::kEvent) {
    if (event->has_round()) {
      EXPECT_EQ(event->round().round(), expected);
      expected = event->round().round() + 1;
    } else if (event->snapshot().state() == v1::RUNNING) {
      ++rollbacks;
      expected = event->snapshot().rounds_completed();
      EXPECT_EQ(expected, 0);
    }
  }
  const v1::Job job = *jobs_.Get(id);
  EXPECT_EQ(job.state(), v1::SUCCEEDED) << job.error();
  EXPECT_EQ(job.rounds_completed(), kRounds);
  EXPECT_EQ(rollbacks, 1);
  EXPECT_EQ(job.workers(), 1);
}

// A coordinator that crashed mid-job, as its journal shows it (in memory:
// the SQLite journal passes the same cases in lib/store): the job
// RUNNING, rounds journaled up to some round past its last checkpoint. A new
// manager on that journal resumes the job from the checkpoint, and its log
// ends up with every round once, the same rounds as before.
TEST(JobManagerRecoveryTest, ResumesUnfinishedJobsFromTheirLastCheckpoint) {
  auto journal = std::make_unique<store::InMemoryJournal>();
  store::InMemoryCheckpointStore checkpoints;
  JobDurability durability;
  durability.journal = journal.get();
  durability.checkpoints = &checkpoints;
  timing::testing::FakeClock clock;
  v1::JobSpec spec = TestSpec(4, 30);
  spec.set_checkpoint_interval(10);

  std::string id, ended;
  std::vector<store::JournaledRound> before;
  {
    WorkerRegistry registry(WorkerRegistry::Options(), &clock);
    JobManager jobs(&registry, &clock, 7, {}, durability);
    FakeWorker worker(&registry, "w", 1, 16);
    ended = *jobs.Submit(TestSpec(2, 3));
    id = *jobs.Submit(spec);
    for (const std::string& job : {ended, id}) {
      Drain(**jobs.Watch(job));
      ASSERT_EQ(jobs.Get(job)->state(), v1::SUCCEEDED);
    }
    before = *journal->Rounds(id, 100);
    ASSERT_THAT(before, SizeIs(30));
    ASSERT_THAT(*journal->Checkpoints(id), SizeIs(2));  // 20 and 30
    jobs.Shutdown();
  }
  // The journal as a crash at round 25 would have left it: the job
  // RUNNING, rounds 0..24, its checkpoint at round 20.
  auto crashed = std::make_unique<store::InMemoryJournal>();
  // (Loops over named copies: `*journal->Jobs()` would dangle.)
  std::vector<store::JournaledJob> journaled = *journal->Jobs();
  for (store::JournaledJob& job : journaled) {
    const std::string job_id = job.job.job_id();
    const bool cut = job_id == id;
    if (cut) job.job.set_state(v1::RUNNING);
    ASSERT_TRUE(crashed->AddJob(job.job, spec, job.seq).ok());
    const std::vector<store::JournaledRound> rounds =
        *journal->Rounds(job_id, cut ? 25 : 100);
    for (const store::JournaledRound& round : rounds) {
      ASSERT_TRUE(
          crashed->RecordRound(job_id, round.outcome, round.potential_kj_mol)
              .ok());
    }
    const std::vector<store::CheckpointRecord> recorded =
        *journal->Checkpoints(job_id);
    for (const store::CheckpointRecord& checkpoint : recorded) {
      if (!cut || checkpoint.round <= 20) {
        ASSERT_TRUE(crashed->RecordCheckpoint(job_id, checkpoint).ok());
      }
    }
  }
  durability.journal = crashed.get();

  WorkerRegistry registry(WorkerRegistry::Options(), &clock);
  JobManager jobs(&registry, &clock, 8, {}, durability);
  ASSERT_TRUE(jobs.Recover().ok());
  EXPECT_EQ(jobs.Get(ended)->state(), v1::SUCCEEDED);
  EXPECT_EQ(jobs.Get(id)->state(), v1::QUEUED);
  FakeWorker worker(&registry, "w2", 1, 16);
  Drain(**jobs.Watch(id));
  const v1::Job job = *jobs.Get(id);
  EXPECT_EQ(job.state(), v1::SUCCEEDED) << job.error();
  EXPECT_EQ(job.rounds_completed(), 30);
  // Rounds 20..24 ran again (the cut is at 20), 25..29 for the first time
  // since the crash; all of them as before.
  EXPECT_EQ(worker.segments_run(), 4 * 10);
  const std::vector<store::JournaledRound> after = *crashed->Rounds(id, 100);
  ASSERT_THAT(after, SizeIs(30));
  for (size_t r = 0; r < after.size(); ++r) {
    EXPECT_EQ(after[r].outcome.round, static_cast<int64_t>(r));
    EXPECT_EQ(after[r].outcome.after, before[r].outcome.after) << r;
    EXPECT_EQ(after[r].potential_kj_mol, before[r].potential_kj_mol) << r;
  }
  jobs.Shutdown();
}

// A journal and checkpoint store in memory, for jobs that extend and resume.
struct InMemoryDurability {
  store::InMemoryJournal journal;
  store::InMemoryCheckpointStore checkpoints;
  JobDurability Durability() {
    JobDurability durability;
    durability.journal = &journal;
    durability.checkpoints = &checkpoints;
    return durability;
  }
};

// A job's ns/day counts the rounds run since it (re)started over the time
// since: an extended job's is its extension's, not all its rounds over the
// extension's time. Each round's observer advances the fake clock a second,
// so the k-th round of a run is journaled k - 1 seconds after its start.
TEST(JobManagerExtendTest, NsPerDayCountsTheRoundsSinceTheJobStarted) {
  InMemoryDurability stores;
  const JobDurability durability = stores.Durability();
  timing::testing::FakeClock clock;
  class Ticker : public JobObserver {
   public:
    explicit Ticker(timing::testing::FakeClock* clock) : clock_(clock) {}
    absl::Status OnRound(const v1::Job&, const runner::RoundReport&) override {
      clock_->Advance(absl::Seconds(1));
      return absl::OkStatus();
    }

   private:
    timing::testing::FakeClock* const clock_;
  } ticker(&clock);
  v1::JobSpec spec = TestSpec(4, 10);
  spec.set_checkpoint_interval(10);
  WorkerRegistry registry(WorkerRegistry::Options(), &clock);
  JobManager jobs(&registry, &clock, 7, {&ticker}, durability);
  FakeWorker worker(&registry, "w", 1, 16);
  const std::string id = *jobs.Submit(spec);
  Drain(**jobs.Watch(id));
  v1::JobSpec filled = spec;  // the timestep the job ran with
  spec::ApplyDefaults(filled);
  EXPECT_DOUBLE_EQ(jobs.Get(id)->ns_per_day(),
                   runner::NsPerDay(filled, 4, 10, 9));
  ASSERT_TRUE(jobs.Extend(id, 10).ok());
  Drain(**jobs.Watch(id));
  const v1::Job job = *jobs.Get(id);
  ASSERT_EQ(job.state(), v1::SUCCEEDED) << job.error();
  EXPECT_EQ(job.rounds_completed(), 20);
  EXPECT_DOUBLE_EQ(job.ns_per_day(), runner::NsPerDay(filled, 4, 10, 9));
  jobs.Shutdown();
}

// ExtendJob: an ended job queued again with more rounds ends as if it had
// been given them all at submission (the fake's energies depend on replica
// and round only, so two jobs of one spec make the same decisions), also
// across a restart between the extension and its run.
TEST(JobManagerExtendTest, AnExtendedJobEqualsOneGivenAllItsRoundsAtOnce) {
  InMemoryDurability stores;
  store::InMemoryJournal& journal = stores.journal;
  const JobDurability durability = stores.Durability();
  timing::testing::FakeClock clock;
  v1::JobSpec longer = TestSpec(4, 30);
  longer.set_checkpoint_interval(10);
  v1::JobSpec shorter = longer;
  shorter.mutable_exchange()->set_n_rounds(17);

  std::string whole, extended, cancelled;
  {
    WorkerRegistry registry(WorkerRegistry::Options(), &clock);
    JobManager jobs(&registry, &clock, 7, {}, durability);
    whole = *jobs.Submit(longer);
    extended = *jobs.Submit(shorter);
    cancelled = *jobs.Submit(shorter);
    // Not ended yet: refused.
    EXPECT_EQ(jobs.Extend(extended, 5).status().code(),
              absl::StatusCode::kFailedPrecondition);
    ASSERT_EQ(jobs.Cancel(cancelled)->state(), v1::CANCELLED);
    {
      FakeWorker worker(&registry, "w", 1, 16);
      for (const std::string& job : {whole, extended}) {
        Drain(**jobs.Watch(job));
        ASSERT_EQ(jobs.Get(job)->state(), v1::SUCCEEDED);
      }
      EXPECT_EQ(jobs.Extend("jnope", 5).status().code(),
                absl::StatusCode::kNotFound);
      EXPECT_EQ(jobs.Extend(extended, -1).status().code(),
                absl::StatusCode::kInvalidArgument);
      const absl::Status nothing = jobs.Extend(extended, 0).status();
      EXPECT_EQ(nothing.code(), absl::StatusCode::kInvalidArgument);
      EXPECT_THAT(nothing.message(), HasSubstr("completed 17 of 17"));
      // The spec's n_rounds is an int32.
      EXPECT_EQ(jobs.Extend(extended, int64_t{1} << 31).status().code(),
                absl::StatusCode::kInvalidArgument);
      // A cancelled job's remaining rounds, with nothing added.
      const absl::StatusOr<v1::Job> again = jobs.Extend(cancelled, 0);
      ASSERT_TRUE(again.ok()) << again.status();
      EXPECT_EQ(again->n_rounds(), 17);
      EXPECT_NE(again->state(), v1::CANCELLED);  // queued, or running already
      Drain(**jobs.Watch(cancelled));
      const v1::Job finished = *jobs.Get(cancelled);
      EXPECT_EQ(finished.state(), v1::SUCCEEDED) << finished.error();
      EXPECT_EQ(finished.rounds_completed(), 17);
    }
    // Extended with no worker: it waits, and the coordinator stops.
    const v1::Job queued = *jobs.Extend(extended, 13);
    EXPECT_EQ(queued.state(), v1::QUEUED);
    EXPECT_EQ(queued.n_rounds(), 30);
    EXPECT_EQ(queued.error(), "");
    EXPECT_FALSE(queued.has_finished());
    jobs.Shutdown();
  }
  WorkerRegistry registry(WorkerRegistry::Options(), &clock);
  JobManager jobs(&registry, &clock, 8, {}, durability);
  ASSERT_TRUE(jobs.Recover().ok());
  ASSERT_EQ(jobs.Get(extended)->n_rounds(), 30);
  FakeWorker worker(&registry, "w2", 1, 16);
  Drain(**jobs.Watch(extended));
  const v1::Job job = *jobs.Get(extended);
  EXPECT_EQ(job.state(), v1::SUCCEEDED) << job.error();
  EXPECT_EQ(job.rounds_completed(), 30);
  // From the checkpoint after round 17, not from the start.
  EXPECT_EQ(worker.segments_run(), 4 * 13);
  const std::vector<store::JournaledRound> expected =
      *journal.Rounds(whole, 100);
  const std::vector<store::JournaledRound> got = *journal.Rounds(extended, 100);
  ASSERT_THAT(got, SizeIs(30));
  for (size_t r = 0; r < got.size(); ++r) {
    EXPECT_EQ(got[r].outcome.round, static_cast<int64_t>(r));
    EXPECT_EQ(got[r].outcome.after, expected[r].outcome.after) << r;
    EXPECT_EQ(got[r].outcome.pair_accepts, expected[r].outcome.pair_accepts)
        << r;
    EXPECT_EQ(got[r].potential_kj_mol, expected[r].potential_kj_mol) << r;
  }
  EXPECT_EQ(job.round_trips(), jobs.Get(whole)->round_trips());
  jobs.Shutdown();
}

}  // namespace
}  // namespace replex::coordinator
