#include "lib/threads/slot_pool.h"

#include <sched.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <thread>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace replex::threads {
namespace {

// Which thread runs a task depends on timing; that a replica keeps its slot
// while the load is even shows in bench/efficiency (docs/benchmarks.md).
// What must hold whatever the timing (unless pinned): no task waits while a
// slot is idle.
TEST(SlotPoolTest, AnIdleSlotTakesWorkQueuedForABusyOne) {
  SlotPool pool(2);
  absl::Notification release, blocker_started, stolen_ran;
  // One slot is held by a task that waits; a second task of the same
  // affinity must then run on the other.
  pool.Schedule(0, [&] {
    blocker_started.Notify();
    release.WaitForNotification();
  });
  blocker_started.WaitForNotification();
  pool.Schedule(0, [&] { stolen_ran.Notify(); });
  EXPECT_TRUE(stolen_ran.WaitForNotificationWithTimeout(absl::Seconds(10)));
  release.Notify();
}

TEST(SlotPoolTest, PinnedSlotsRunOnDisjointHalvesOfTheCpus) {
  cpu_set_t allowed;
  ASSERT_EQ(sched_getaffinity(0, sizeof(allowed), &allowed), 0);
  const int cpus = CPU_COUNT(&allowed);
  if (cpus < 2) GTEST_SKIP() << "needs 2 CPUs, this process may use " << cpus;
  absl::Mutex mu;
  std::vector<cpu_set_t> seen;
  {
    SlotPool pool(2, /*pin=*/true);
    // Each task waits until both have started, so they run on both slots.
    for (uint64_t affinity = 0; affinity < 2; ++affinity) {
      pool.Schedule(affinity, [&] {
        cpu_set_t mine;
        sched_getaffinity(0, sizeof(mine), &mine);
        absl::MutexLock lock(&mu);
        seen.push_back(mine);
        mu.Await(absl::Condition(
            +[](std::vector<cpu_set_t>* seen) { return seen->size() == 2; },
            &seen));
      });
    }
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(
        +[](std::vector<cpu_set_t>* seen) { return seen->size() == 2; },
        &seen));
  }
  cpu_set_t both;
  CPU_AND(&both, &seen[0], &seen[1]);
  EXPECT_EQ(CPU_COUNT(&both), 0);
  EXPECT_EQ(CPU_COUNT(&seen[0]), cpus / 2);
  EXPECT_EQ(CPU_COUNT(&seen[1]), cpus / 2);
}

// Three tasks on a pinned pool of 2 slots and where each ran: `blocker`
// (affinity 0) holds its slot until `release`; `second` (affinity 0) is
// queued behind it; `other` (affinity 1).
struct ThreeTasks {
  cpu_set_t blocker_cpus, second_cpus, other_cpus;
  std::thread::id blocker_thread, second_thread;
  absl::Notification release, blocker_started, second_ran, other_ran;

  // Schedules the blocker, waits until it runs, then queues the second.
  void StartBlockerAndSecond(SlotPool& pool) {
    pool.Schedule(0, [this] {
      sched_getaffinity(0, sizeof(blocker_cpus), &blocker_cpus);
      blocker_thread = std::this_thread::get_id();
      blocker_started.Notify();
      release.WaitForNotification();
    });
    blocker_started.WaitForNotification();
    pool.Schedule(0, [this] {
      sched_getaffinity(0, sizeof(second_cpus), &second_cpus);
      second_thread = std::this_thread::get_id();
      second_ran.Notify();
    });
  }
  void StartOther(SlotPool& pool) {
    pool.Schedule(1, [this] {
      sched_getaffinity(0, sizeof(other_cpus), &other_cpus);
      other_ran.Notify();
    });
  }
  // The second ran on the blocker's CPUs, half of the `cpus`, none of them
  // the other's.
  void ExpectSecondOnSlot0sCpus(int cpus) const {
    EXPECT_TRUE(CPU_EQUAL(&blocker_cpus, &second_cpus));
    EXPECT_EQ(CPU_COUNT(&second_cpus), cpus / 2);
    cpu_set_t both;
    CPU_AND(&both, &second_cpus, &other_cpus);
    EXPECT_EQ(CPU_COUNT(&both), 0);
  }
};

// A pinned slot runs its own queue only: a task queued for a busy slot
// waits for it rather than go to an idle one. (Were it taken, it would run
// within the 300 ms; it then runs on its own slot's thread and CPUs.)
TEST(SlotPoolTest, APinnedSlotRunsOnlyItsOwnTasks) {
  cpu_set_t allowed;
  ASSERT_EQ(sched_getaffinity(0, sizeof(allowed), &allowed), 0);
  const int cpus = CPU_COUNT(&allowed);
  if (cpus < 2) GTEST_SKIP() << "needs 2 CPUs, this process may use " << cpus;
  SlotPool pool(2, /*pin=*/true);
  ThreeTasks tasks;
  tasks.StartBlockerAndSecond(pool);
  // Slot 1 is idle and runs its own tasks meanwhile.
  tasks.StartOther(pool);
  EXPECT_TRUE(
      tasks.other_ran.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_FALSE(
      tasks.second_ran.WaitForNotificationWithTimeout(absl::Milliseconds(300)));
  tasks.release.Notify();
  EXPECT_TRUE(
      tasks.second_ran.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_EQ(tasks.blocker_thread, tasks.second_thread);
  tasks.ExpectSecondOnSlot0sCpus(cpus);
}

// Hands every task to a SlotPool after noting its affinity.
class RecordingExecutor : public Executor {
 public:
  explicit RecordingExecutor(int slots) : pool_(slots) {}
  void Schedule(uint64_t affinity, std::function<void()> task) override {
    {
      absl::MutexLock lock(&mu_);
      affinities_.push_back(affinity);
    }
    pool_.Schedule(affinity, std::move(task));
  }
  std::vector<uint64_t> affinities() const {
    absl::MutexLock lock(&mu_);
    return affinities_;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<uint64_t> affinities_ ABSL_GUARDED_BY(mu_);
  SlotPool pool_;
};

// Embedded mode reads each task's result as soon as ParallelFor returns, so
// every task must have finished by then, each index run once, with the
// affinity the caller chose (its replica's).
TEST(ParallelForTest, RunsEachIndexOnceWithItsAffinityAndWaitsForAll) {
  RecordingExecutor executor(3);
  constexpr int kTasks = 20;
  std::vector<std::atomic<int>> runs(kTasks);
  ParallelFor(
      executor, kTasks, [](int i) -> uint64_t { return 100 + i; },
      [&](int i) {
        // Late tasks finish last, so a return before they end shows.
        absl::SleepFor(absl::Milliseconds(i % 4 == 3 ? 20 : 0));
        runs[i].fetch_add(1);
      });
  for (int i = 0; i < kTasks; ++i) EXPECT_EQ(runs[i].load(), 1) << i;
  std::vector<uint64_t> expected;
  for (int i = 0; i < kTasks; ++i) expected.push_back(100 + i);
  EXPECT_EQ(executor.affinities(), expected);
}

TEST(ParallelForTest, AnEmptyBatchReturnsAtOnce) {
  SlotPool pool(2);
  ParallelFor(
      pool, 0, [](int i) -> uint64_t { return i; },
      [](int) { ADD_FAILURE() << "no task to run"; });
}

}  // namespace
}  // namespace replex::threads
