#include "replica-worker/executor.h"

#include <sched.h>

#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace replex::worker {
namespace {

// Which thread runs a task depends on timing; that a replica keeps its slot
// while the load is even shows in bench/efficiency (docs/benchmarks.md).
// What must hold whatever the timing: no task waits while a slot is idle.
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

}  // namespace
}  // namespace replex::worker
