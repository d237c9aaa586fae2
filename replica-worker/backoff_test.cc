#include "replica-worker/backoff.h"

#include "gtest/gtest.h"

namespace replex::worker {
namespace {

TEST(BackoffTest, DoublesWithJitterUpToTheMaximumAndResets) {
  Backoff backoff(absl::Milliseconds(100), absl::Seconds(1), /*seed=*/3);
  // Ceilings 100, 200, 400, 800, 1000, 1000 ms; each wait in [ceiling/2,
  // ceiling].
  const int ceilings_ms[] = {100, 200, 400, 800, 1000, 1000};
  for (int ceiling : ceilings_ms) {
    const absl::Duration wait = backoff.Next();
    EXPECT_GE(wait, absl::Milliseconds(ceiling) / 2);
    EXPECT_LE(wait, absl::Milliseconds(ceiling));
  }
  backoff.Reset();
  EXPECT_LE(backoff.Next(), absl::Milliseconds(100));
}

TEST(BackoffTest, JitterDependsOnTheSeed) {
  Backoff a(absl::Seconds(1), absl::Seconds(1), 1);
  Backoff b(absl::Seconds(1), absl::Seconds(1), 1);
  Backoff c(absl::Seconds(1), absl::Seconds(1), 2);
  const absl::Duration first = a.Next();
  EXPECT_EQ(first, b.Next());
  EXPECT_NE(first, c.Next());
}

TEST(BackoffTest, ManyFailuresStayAtTheMaximum) {
  Backoff backoff(absl::Milliseconds(1), absl::Seconds(30), 5);
  for (int i = 0; i < 1000; ++i) backoff.Next();
  EXPECT_GE(backoff.Next(), absl::Seconds(15));
}

}  // namespace
}  // namespace replex::worker
