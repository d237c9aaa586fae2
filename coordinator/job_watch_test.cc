#include "coordinator/job_watch.h"

#include <memory>
#include <string>

#include "gtest/gtest.h"

namespace replex::coordinator {
namespace {

// A round of a 1,024-rung job: about 12 KB.
v1::JobEvent BigRound(int64_t round) {
  v1::JobEvent event;
  event.set_job_id("j1");
  v1::RoundEvent& r = *event.mutable_round();
  r.set_round(round);
  for (int i = 0; i < 1024; ++i) {
    r.add_rung_of_replica(i);
    r.add_pair_attempts(1);
    r.add_pair_accepts(i % 2);
  }
  return event;
}

// A watcher that never reads holds at most kMaxQueuedBytes (plus one
// snapshot), however long the job runs; when it does read, it gets the job
// as it is now and then the rounds after that.
TEST(JobWatchTest, ASlowWatcherCostsBoundedMemoryAndGetsASnapshot) {
  JobWatch watch;
  v1::Job now;
  now.set_job_id("j1");
  size_t most = 0;
  for (int64_t round = 0; round < 10000; ++round) {
    now.set_rounds_completed(round + 1);
    watch.Push(JobWatch::Event::Of(BigRound(round)), now);
    most = std::max(most, watch.queued_bytes());
  }
  EXPECT_LE(most, JobWatch::kMaxQueuedBytes + now.ByteSizeLong() + 16);
  EXPECT_GT(most, JobWatch::kMaxQueuedBytes / 2);  // it did fill up

  // The queue holds a snapshot and the rounds after it, in order.
  std::shared_ptr<const v1::JobEvent> event;
  ASSERT_EQ(watch.Take(&event, absl::ZeroDuration()), JobWatch::Next::kEvent);
  ASSERT_TRUE(event->has_snapshot());
  int64_t next = event->snapshot().rounds_completed();
  EXPECT_GT(next, 9900);
  while (watch.Take(&event, absl::ZeroDuration()) == JobWatch::Next::kEvent) {
    ASSERT_TRUE(event->has_round());
    EXPECT_EQ(event->round().round(), next++);
  }
  EXPECT_EQ(next, 10000);
  EXPECT_EQ(watch.queued_bytes(), 0u);
}

// A watcher that keeps up sees every event.
TEST(JobWatchTest, AWatcherThatKeepsUpMissesNothing) {
  JobWatch watch;
  v1::Job now;
  for (int64_t round = 0; round < 1000; ++round) {
    watch.Push(JobWatch::Event::Of(BigRound(round)), now);
    std::shared_ptr<const v1::JobEvent> event;
    ASSERT_EQ(watch.Take(&event, absl::ZeroDuration()), JobWatch::Next::kEvent);
    EXPECT_EQ(event->round().round(), round);
  }
}

}  // namespace
}  // namespace replex::coordinator
