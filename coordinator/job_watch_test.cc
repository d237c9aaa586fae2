#include "coordinator/job_watch.h"

#include <memory>
#include <string>
#include <vector>

#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace replex::coordinator {
namespace {

// A round of a 1,024-rung job: about 4 KB.
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
  const size_t round_bytes = JobWatch::Event::Of(BigRound(0)).bytes;
  EXPECT_GE(next, 10000 - JobWatch::kMaxQueuedBytes / round_bytes);
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

v1::JobEvent Snapshot(v1::JobState state) {
  v1::JobEvent event;
  event.set_job_id("j1");
  event.mutable_snapshot()->set_state(state);
  return event;
}

// TakeRounds hands out the consecutive rounds as one JobEvent.rounds, put
// together from bytes: on the wire (serialized and parsed again) it is the
// rounds, in order, equal to those pushed; a snapshot ends a batch and comes
// on its own.
TEST(JobWatchTest, TakeRoundsSendsConsecutiveRoundsAsOneEvent) {
  JobWatch watch;
  const v1::Job now;
  watch.Push(JobWatch::Event::Of(Snapshot(v1::RUNNING)), now);
  for (int64_t round = 0; round < 5; ++round) {
    watch.Push(JobWatch::Event::Of(BigRound(round)), now);
  }
  watch.Push(JobWatch::Event::Of(Snapshot(v1::SUCCEEDED)), now);
  watch.Push(JobWatch::Event::Of(BigRound(5)), now);
  watch.End(absl::OkStatus());

  // Not yet time for rounds: the snapshot before them comes, they stay.
  std::vector<v1::JobEvent> heard;
  std::shared_ptr<const v1::JobEvent> event;
  ASSERT_EQ(watch.TakeRounds(&event, false), JobWatch::Next::kEvent);
  heard.push_back(*event);
  ASSERT_EQ(watch.TakeRounds(&event, false), JobWatch::Next::kLater);
  while (watch.TakeRounds(&event, true) == JobWatch::Next::kEvent) {
    v1::JobEvent parsed;
    ASSERT_TRUE(parsed.ParseFromString(event->SerializeAsString()));
    heard.push_back(parsed);
  }
  ASSERT_EQ(heard.size(), 4u);
  EXPECT_EQ(heard[0].snapshot().state(), v1::RUNNING);
  ASSERT_EQ(heard[1].rounds().rounds_size(), 5);
  for (int k = 0; k < 5; ++k) {
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(
        heard[1].rounds().rounds(k), BigRound(k).round()))
        << "round " << k;
  }
  EXPECT_EQ(heard[1].job_id(), "j1");
  EXPECT_EQ(heard[2].snapshot().state(), v1::SUCCEEDED);
  ASSERT_EQ(heard[3].rounds().rounds_size(), 1);
  EXPECT_EQ(heard[3].rounds().rounds(0).round(), 5);
  EXPECT_EQ(watch.queued_bytes(), 0u);
}

class CountingListener : public JobWatch::Listener {
 public:
  void Ready() override { ++calls; }
  int calls = 0;
};

// The reader is told when it has something to take after finding nothing,
// not at every push: one busy writing takes the rest when it is done.
TEST(JobWatchTest, TheReaderIsToldOnlyWhenItWaits) {
  JobWatch watch;
  const v1::Job now;
  auto listener = std::make_shared<CountingListener>();
  watch.Listen(listener);
  EXPECT_EQ(listener->calls, 1);  // on listening
  for (int64_t round = 0; round < 3; ++round) {
    watch.Push(JobWatch::Event::Of(BigRound(round)), now);
  }
  EXPECT_EQ(listener->calls, 2);  // the first push only
  std::shared_ptr<const v1::JobEvent> event;
  ASSERT_EQ(watch.TakeRounds(&event, true), JobWatch::Next::kEvent);
  v1::JobEvent parsed;
  ASSERT_TRUE(parsed.ParseFromString(event->SerializeAsString()));
  EXPECT_EQ(parsed.rounds().rounds_size(), 3);
  watch.Push(JobWatch::Event::Of(BigRound(3)), now);
  EXPECT_EQ(listener->calls, 2);  // it has not found the queue empty yet
  ASSERT_EQ(watch.TakeRounds(&event, true), JobWatch::Next::kEvent);
  ASSERT_EQ(watch.TakeRounds(&event, true), JobWatch::Next::kTimeout);
  watch.Push(JobWatch::Event::Of(BigRound(4)), now);
  EXPECT_EQ(listener->calls, 3);
  watch.End(absl::OkStatus());
  EXPECT_EQ(listener->calls, 4);
}

// Rounds held back for a batch go once they fill half of what a watch may
// queue, and the reader is told then: a prompt reader with a long batch_ms
// never has its rounds coalesced into a snapshot.
TEST(JobWatchTest, HeldBackRoundsGoBeforeTheyCouldBeCoalesced) {
  JobWatch watch;
  const v1::Job now;
  auto listener = std::make_shared<CountingListener>();
  watch.Listen(listener);
  std::shared_ptr<const v1::JobEvent> event;
  ASSERT_EQ(watch.TakeRounds(&event, false), JobWatch::Next::kTimeout);
  watch.Push(JobWatch::Event::Of(BigRound(0)), now);
  ASSERT_EQ(watch.TakeRounds(&event, false), JobWatch::Next::kLater);
  const int calls = listener->calls;
  int64_t round = 1;
  while (watch.queued_bytes() <= JobWatch::kMaxQueuedBytes / 2) {
    EXPECT_EQ(listener->calls, calls) << "round " << round;
    watch.Push(JobWatch::Event::Of(BigRound(round++)), now);
  }
  EXPECT_EQ(listener->calls, calls + 1);
  ASSERT_EQ(watch.TakeRounds(&event, false), JobWatch::Next::kEvent);
  v1::JobEvent parsed;
  ASSERT_TRUE(parsed.ParseFromString(event->SerializeAsString()));
  ASSERT_EQ(parsed.rounds().rounds_size(), round);
  EXPECT_EQ(parsed.rounds().rounds(0).round(), 0);
}

}  // namespace
}  // namespace replex::coordinator
