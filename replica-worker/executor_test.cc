#include "replica-worker/executor.h"

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

}  // namespace
}  // namespace replex::worker
