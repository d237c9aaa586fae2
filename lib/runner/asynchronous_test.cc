// Asynchronous exchange without OpenMM: segments run on scripted slots in
// simulated time, and each segment's potential energy is an exact draw from
// Gamma(6, k_B T) at its rung's temperature (12 harmonic degrees of
// freedom), so swaps are accepted at their exact rates.
#include "lib/runner/asynchronous.h"

#include <sched.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <deque>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "lib/exchange/ladder.h"
#include "lib/runner/local_executor.h"
#include "lib/runner/runner.h"
#include "lib/spec/spec.h"
#include "lib/store/checkpoint_store.h"
#include "lib/store/in_memory_journal.h"
#include "tests/scripted_slots.h"
#include "tests/statistical_util.h"
#include "tests/test_paths.h"

namespace replex::runner {
namespace {

constexpr int kDof = 12;

v1::JobSpec Spec(int n_rungs, int n_rounds, v1::Exchange::Scheme scheme) {
  v1::JobSpec spec;
  spec.set_seed(23);
  spec.mutable_exchange()->set_steps_per_exchange(10);
  spec.mutable_exchange()->set_n_rounds(n_rounds);
  spec.mutable_exchange()->set_scheme(scheme);
  spec.mutable_exchange()->set_mode(v1::Exchange::ASYNCHRONOUS);
  // A geometric ladder from 300 K, 1.12 apart.
  for (int k = 0; k < n_rungs; ++k) {
    spec.mutable_ladder()->add_temperatures_k(300 * std::pow(1.12, k));
  }
  return spec;
}

// Exact draws: U ~ Gamma(6, k_B T) at the segment's rung, seeded by the
// segment; on a ladder with parameters any finite energy at each rung asked
// for.
std::function<absl::StatusOr<SegmentResult>(const SegmentOrder&)> ExactEnergies(
    const exchange::Ladder& ladder) {
  return [&ladder](const SegmentOrder& order) -> absl::StatusOr<SegmentResult> {
    std::mt19937_64 random(order.segment_seed);
    const double kt = exchange::kMolarGasConstantKJPerMolK *
                      ladder.rung(order.rung).temperature_k;
    SegmentResult result;
    result.potential_kj_mol =
        std::gamma_distribution<double>(kDof / 2.0, kt)(random);
    for (int rung : order.evaluate_rungs) {
      result.reduced.push_back(ladder.beta(rung) * result.potential_kj_mol *
                               (1 + 0.01 * rung));
    }
    return result;
  };
}

struct Outcome {
  std::vector<std::vector<int>> replicas;
  std::vector<exchange::Permutation> after;
  AsynchronousRun run;
  double seconds = 0;
  std::vector<int64_t> attempts, accepts;
};

Outcome RunScripted(const v1::JobSpec& spec, std::vector<double> seconds,
                    bool bound) {
  auto driver = RoundDriver::Create(spec);
  EXPECT_TRUE(driver.ok()) << driver.status();
  const int n = driver->ladder().size();
  testing::ScriptedSlots slots(std::move(seconds), bound,
                               ExactEnergies(driver->ladder()));
  Outcome outcome;
  const size_t pairs = driver->ladder().pairs().size();
  outcome.attempts.assign(pairs, 0);
  outcome.accepts.assign(pairs, 0);
  AsynchronousOptions options;
  options.segments = int64_t{n} * spec.exchange().n_rounds();
  absl::StatusOr<AsynchronousRun> run = RunAsynchronously(
      *driver, slots, options, [&](const ExchangeEvent& event) {
        outcome.replicas.push_back(event.replicas);
        outcome.after.push_back(event.completed.outcome.after);
        for (size_t p = 0; p < pairs; ++p) {
          outcome.attempts[p] += event.completed.outcome.pair_attempts[p];
          outcome.accepts[p] += event.completed.outcome.pair_accepts[p];
        }
        // Only the event's replicas' energies are known.
        for (int i = 0; i < n; ++i) {
          const bool in =
              std::find(event.replicas.begin(), event.replicas.end(), i) !=
              event.replicas.end();
          EXPECT_EQ(std::isnan(event.completed.potential_kj_mol[i]), !in);
        }
        return absl::OkStatus();
      });
  EXPECT_TRUE(run.ok()) << run.status();
  if (run.ok()) outcome.run = *run;
  outcome.seconds = slots.now();
  return outcome;
}

// The fraction of the slots' capacity a run of `segments` segments used.
double Efficiency(int64_t segments, double seconds, double capacity) {
  return segments / (seconds * capacity);
}

// The same slots running the job synchronously: every round starts every
// replica and waits for all of them. Returns the simulated seconds.
double SynchronousSeconds(v1::JobSpec spec, std::vector<double> seconds,
                          bool bound) {
  spec.mutable_exchange()->set_mode(v1::Exchange::SYNCHRONOUS);
  auto driver = RoundDriver::Create(spec);
  EXPECT_TRUE(driver.ok()) << driver.status();
  testing::ScriptedSlots slots(std::move(seconds), bound,
                               ExactEnergies(driver->ladder()));
  while (!driver->done()) {
    const std::vector<SegmentOrder> orders = driver->Orders(false);
    for (const SegmentOrder& order : orders) slots.Start(order);
    std::vector<SegmentResult> results(orders.size());
    for (size_t i = 0; i < orders.size(); ++i) {
      SegmentStream::Finished done = slots.Next();
      results[done.order.replica] = *done.result;
    }
    EXPECT_TRUE(driver->Complete(results).ok());
  }
  return slots.now();
}

TEST(AsynchronousTest, EveryPairAcceptsAtItsExactRateWithASlowSlot) {
  // 8 replicas on 3 slots, slot 0 three times slower, each replica bound to
  // one slot as on a cluster's workers.
  const v1::JobSpec spec = Spec(8, 3000, v1::Exchange::NEIGHBORS);
  const Outcome outcome = RunScripted(spec, {3, 1, 1}, /*bound=*/true);
  const exchange::Ladder ladder = RoundDriver::Create(spec)->ladder();
  int64_t segments = 0;
  for (int64_t count : outcome.run.segments_by_replica) segments += count;
  EXPECT_EQ(segments, 8 * 3000);
  // The slow slot's replicas (0, 3, 6) ran about a third as many segments.
  EXPECT_LT(outcome.run.segments_by_replica[0],
            outcome.run.segments_by_replica[1] / 2);
  for (int p = 0; p < 7; ++p) {
    // About 790 attempts per pair (5,144 events of 4.7 replicas on
    // average, one sweep each). Each attempt decides between two fresh, exact
    // draws: a Bernoulli trial with the exact probability, independent of the
    // others, so the binomial standard error holds; 4 of them.
    const double exact = testing::HarmonicSwapAcceptance(kDof, ladder.beta(p),
                                                         ladder.beta(p + 1));
    ASSERT_GT(outcome.attempts[p], 600) << "pair " << p;
    const double measured =
        static_cast<double>(outcome.accepts[p]) / outcome.attempts[p];
    EXPECT_NEAR(measured, exact,
                4 * std::sqrt(exact * (1 - exact) / outcome.attempts[p]))
        << "pair " << p << ": " << outcome.accepts[p] << " of "
        << outcome.attempts[p];
  }
}

TEST(AsynchronousTest, NoSlotWaitsForTheSlowestWhereSynchronousRoundsDo) {
  const v1::JobSpec spec = Spec(8, 400, v1::Exchange::NEIGHBORS);
  const std::vector<double> seconds = {3, 1, 1};
  const double capacity = 1 / 3.0 + 2;
  for (bool bound : {true, false}) {
    const Outcome outcome = RunScripted(spec, seconds, bound);
    const double asynchronous = Efficiency(8 * 400, outcome.seconds, capacity);
    const double synchronous =
        Efficiency(8 * 400, SynchronousSeconds(spec, seconds, bound), capacity);
    // Bound, a synchronous round waits for slot 0's three replicas: 9 s for
    // 8 segments, 8 / (9 x 7/3) = 0.38 of the capacity.
    if (bound) {
      EXPECT_NEAR(synchronous, 8 / (9 * capacity), 1e-9);
    }
    EXPECT_GE(asynchronous, 0.9) << (bound ? "bound" : "shared");
    EXPECT_GT(asynchronous, synchronous) << (bound ? "bound" : "shared");
  }
}

TEST(AsynchronousTest, OrdersEvaluateEveryRungAnEventMaySwapTo) {
  // A parameter on the ladder: CompleteAmong fails on any reduced potential
  // an event needs and the replica was not ordered to evaluate.
  for (v1::Exchange::Scheme scheme :
       {v1::Exchange::NEIGHBORS, v1::Exchange::GIBBS}) {
    v1::JobSpec spec = Spec(5, 300, scheme);
    v1::ParameterLadder& lambda = *spec.mutable_ladder()->add_parameters();
    lambda.set_name("lambda");
    for (int k = 0; k < 5; ++k) lambda.add_values(0.25 * k);
    const Outcome outcome = RunScripted(spec, {1.5, 1}, false);
    int64_t accepts = 0;
    for (int64_t a : outcome.accepts) accepts += a;
    EXPECT_GT(accepts, 0);
  }
}

TEST(AsynchronousTest, AGridExchangesAlongEveryAxis) {
  // 3 temperatures x 3 values of a parameter.
  v1::JobSpec spec = Spec(0, 400, v1::Exchange::NEIGHBORS);
  v1::Ladder& grid = *spec.mutable_ladder();
  v1::Ladder& temperatures = *grid.add_axes();
  for (double t : {300, 330, 363}) temperatures.add_temperatures_k(t);
  v1::ParameterLadder& lambda = *grid.add_axes()->add_parameters();
  lambda.set_name("lambda");
  for (double x : {0.0, 0.5, 1.0}) lambda.add_values(x);
  const Outcome outcome = RunScripted(spec, {1.5, 1}, false);
  const exchange::Ladder ladder = RoundDriver::Create(spec)->ladder();
  ASSERT_EQ(ladder.size(), 9);
  std::vector<int64_t> accepts_by_axis(2);
  for (size_t p = 0; p < ladder.pairs().size(); ++p) {
    accepts_by_axis[ladder.pairs()[p].axis] += outcome.accepts[p];
  }
  EXPECT_GT(accepts_by_axis[0], 0);
  EXPECT_GT(accepts_by_axis[1], 0);
}

TEST(AsynchronousTest, TheSameCompletionOrderGivesTheSameRun) {
  const v1::JobSpec spec = Spec(6, 200, v1::Exchange::GIBBS);
  const Outcome first = RunScripted(spec, {2, 1}, true);
  const Outcome again = RunScripted(spec, {2, 1}, true);
  EXPECT_EQ(first.replicas, again.replicas);
  EXPECT_EQ(first.after, again.after);
  EXPECT_GT(first.run.events, 200);
  // Another completion order meets other replicas.
  const Outcome other = RunScripted(spec, {1, 2}, true);
  EXPECT_NE(first.replicas, other.replicas);
}

// What a run with barriers did: every event's outcome and replicas, and the
// run at each barrier.
struct WithBarriers {
  std::vector<exchange::RoundOutcome> outcomes;
  std::vector<std::vector<int>> replicas;
  std::vector<AsynchronousRun> barriers;
};

// Runs `driver` (at `from`'s events) on three bound slots of 2, 1 and 3
// simulated seconds with a barrier due every 40 segments, as
// RunAsynchronousOn's checkpoint_interval makes them, until the end or its
// `stop_at`-th barrier (0: none), recording into `recorded`.
void RunWithBarriers(RoundDriver& driver, const AsynchronousRun& from,
                     int stop_at, WithBarriers& recorded) {
  const int n = driver.ladder().size();
  testing::ScriptedSlots slots(
      {2, 1, 3}, /*bound=*/true, ExactEnergies(driver.ladder()),
      [n]() { return std::vector<std::string>(n, "state"); });
  AsynchronousOptions options;
  options.segments = int64_t{n} * 100;
  options.from = from;
  int64_t checkpointed = 0;
  for (int64_t count : from.segments_by_replica) checkpointed += count;
  options.barrier_due = [&](int64_t finished) {
    return finished / 40 > checkpointed / 40;
  };
  int barriers = 0;
  absl::StatusOr<AsynchronousRun> run = RunAsynchronously(
      driver, slots, options, [&](const ExchangeEvent& event) {
        recorded.outcomes.push_back(event.completed.outcome);
        recorded.replicas.push_back(event.replicas);
        if (!event.barrier) return absl::OkStatus();
        // ScriptedSlots refuses while a segment runs or waits to.
        absl::StatusOr<std::vector<std::string>> states = slots.States();
        EXPECT_TRUE(states.ok()) << states.status();
        checkpointed = 0;
        for (int64_t count : event.run.segments_by_replica) {
          checkpointed += count;
        }
        recorded.barriers.push_back(event.run);
        return ++barriers == stop_at ? absl::CancelledError("stopped")
                                     : absl::OkStatus();
      });
  EXPECT_EQ(run.ok(), stop_at == 0) << run.status();
}

// A run stopped at a barrier and resumed from what its checkpoint keeps (the
// journaled events replayed, each replica's segment count and the rung its
// state was made at) makes the same events, bit for bit, as the run left
// alone; at every barrier no segment runs.
TEST(AsynchronousTest, ARunResumedAtABarrierMakesTheSameEvents) {
  const v1::JobSpec spec = Spec(6, 100, v1::Exchange::GIBBS);
  auto alone_driver = RoundDriver::Create(spec);
  ASSERT_TRUE(alone_driver.ok());
  WithBarriers alone;
  RunWithBarriers(*alone_driver, {}, 0, alone);
  // 600 segments: a barrier after each 40 and one at the end.
  ASSERT_GE(alone.barriers.size(), 10u);
  int64_t total = 0;
  for (int64_t count : alone.barriers.back().segments_by_replica) {
    total += count;
  }
  EXPECT_EQ(total, 600);

  auto stopped_driver = RoundDriver::Create(spec);
  ASSERT_TRUE(stopped_driver.ok());
  WithBarriers stopped;
  RunWithBarriers(*stopped_driver, {}, 3, stopped);
  ASSERT_EQ(stopped.barriers.size(), 3u);
  auto resumed_driver = RoundDriver::Create(spec);
  ASSERT_TRUE(resumed_driver.ok());
  ASSERT_TRUE(resumed_driver->Replay(stopped.outcomes).ok());
  WithBarriers resumed = stopped;
  RunWithBarriers(*resumed_driver, stopped.barriers.back(), 0, resumed);

  ASSERT_EQ(resumed.outcomes.size(), alone.outcomes.size());
  for (size_t e = 0; e < alone.outcomes.size(); ++e) {
    SCOPED_TRACE(e);
    EXPECT_EQ(resumed.replicas[e], alone.replicas[e]);
    EXPECT_EQ(resumed.outcomes[e].after, alone.outcomes[e].after);
    EXPECT_EQ(resumed.outcomes[e].pair_attempts,
              alone.outcomes[e].pair_attempts);
    EXPECT_EQ(resumed.outcomes[e].pair_accepts, alone.outcomes[e].pair_accepts);
  }
  EXPECT_EQ(resumed.barriers.back().segments_by_replica,
            alone.barriers.back().segments_by_replica);
  EXPECT_EQ(resumed.barriers.back().state_rung,
            alone.barriers.back().state_rung);
  EXPECT_EQ(resumed.barriers.back().segments_by_rung,
            alone.barriers.back().segments_by_rung);
}

// RunAsynchronousOn `slots` with `journal` and checkpoints in memory, as
// `replex run --results` keeps them.
absl::StatusOr<RunResult> RunDurably(const v1::JobSpec& spec,
                                     RoundDriver& driver, SegmentStream& slots,
                                     store::InMemoryJournal& journal) {
  store::InMemoryCheckpointStore checkpoints;
  RunOptions options;
  options.durability.journal = &journal;
  options.durability.checkpoints = &checkpoints;
  return RunAsynchronousOn(spec, options, driver, slots, absl::Now());
}

// A checkpoint whose states cannot be read is skipped and the next is due
// an interval later: a failure must not make every following event a
// barrier. A durable run of 600 segments with a checkpoint every 10 rounds'
// worth (60 segments) whose States fails on its 2nd to 4th calls still
// asks for states at most once an interval and at the end, and ends.
TEST(AsynchronousTest, ACheckpointThatFailsIsSkippedNotRetriedAtEveryEvent) {
  v1::JobSpec spec = Spec(6, 100, v1::Exchange::GIBBS);
  spec.set_checkpoint_interval(10);
  auto driver = RoundDriver::Create(spec);
  ASSERT_TRUE(driver.ok());
  int calls = 0;
  testing::ScriptedSlots slots(
      {2, 1, 3}, /*bound=*/true, ExactEnergies(driver->ladder()),
      [&calls]() -> absl::StatusOr<std::vector<std::string>> {
        ++calls;
        if (calls >= 2 && calls <= 4) return absl::UnavailableError("no disk");
        return std::vector<std::string>(6, "state");
      });
  store::InMemoryJournal journal;
  const absl::StatusOr<RunResult> result =
      RunDurably(spec, *driver, slots, journal);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_GE(calls, 5);
  EXPECT_LE(calls, 600 / 60 + 1);
  // The last checkpoint is the end's.
  const auto recorded = journal.Checkpoints("run");
  ASSERT_TRUE(recorded.ok());
  ASSERT_FALSE(recorded->empty());
  EXPECT_EQ(recorded->back().round, result->exchange_events);
}

// On one slot every event is a barrier (no segment runs while all wait for
// it), so barrier_due is never followed by a drain: the checkpoints must
// still come every interval (60 segments here), not only at the end.
TEST(AsynchronousTest, CheckpointsComeEveryIntervalWhenEveryEventIsABarrier) {
  v1::JobSpec spec = Spec(6, 100, v1::Exchange::GIBBS);
  spec.set_checkpoint_interval(10);
  auto driver = RoundDriver::Create(spec);
  ASSERT_TRUE(driver.ok());
  int calls = 0;
  testing::ScriptedSlots slots({1}, /*bound=*/true,
                               ExactEnergies(driver->ladder()), [&calls]() {
                                 ++calls;
                                 return std::vector<std::string>(6, "state");
                               });
  store::InMemoryJournal journal;
  const absl::StatusOr<RunResult> result =
      RunDurably(spec, *driver, slots, journal);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->exchange_events, 100);
  EXPECT_EQ(calls, 600 / 60);  // the last at the end
}

// LocalExecutor's free slot follows its Start/Next counts. Unpinned, any
// thread computes any segment, so segments of replicas 0 and 2 fill both
// threads; pinned, replica i computes on CPU share i % 2 only, so they leave
// share 1 free.
TEST(LocalExecutorTest, AFreeSlotIsCountedPerShareWhenPinned) {
  cpu_set_t allowed;
  ASSERT_EQ(sched_getaffinity(0, sizeof(allowed), &allowed), 0);
  if (CPU_COUNT(&allowed) < 2) GTEST_SKIP() << "needs 2 CPUs to pin";
  absl::StatusOr<v1::JobSpec> spec = spec::LoadYamlFile(
      testing::SourcePath("examples/harmonic-oscillator/job.yaml"));
  ASSERT_TRUE(spec.ok()) << spec.status();
  auto driver = RoundDriver::Create(*spec);
  ASSERT_TRUE(driver.ok()) << driver.status();
  for (bool pin : {false, true}) {
    SCOPED_TRACE(pin ? "pinned" : "unpinned");
    auto executor = LocalExecutor::Create(*spec, driver->ladder(), 2, pin);
    ASSERT_TRUE(executor.ok()) << executor.status();
    EXPECT_TRUE((*executor)->SlotFree());
    (*executor)->Start(driver->OrderFor(0, 0));
    (*executor)->Start(driver->OrderFor(2, 0));
    EXPECT_EQ((*executor)->SlotFree(), pin);
    for (int i = 0; i < 2; ++i) {
      SegmentStream::Finished done = (*executor)->Next();
      EXPECT_TRUE(done.result.ok()) << done.result.status();
    }
    EXPECT_TRUE((*executor)->SlotFree());
  }
}

// RunSegmentsOverlapping calls `meanwhile` once every order is out (no slot
// is free: the segments are started and not yet taken), and returns the
// same results as RunSegments: the replicas' energies after the same orders
// from the same starts.
TEST(LocalExecutorTest, OverlappingWorkRunsWhileTheSegmentsAreOut) {
  absl::StatusOr<v1::JobSpec> spec = spec::LoadYamlFile(
      testing::SourcePath("examples/harmonic-oscillator/job.yaml"));
  ASSERT_TRUE(spec.ok()) << spec.status();
  auto driver = RoundDriver::Create(*spec);
  ASSERT_TRUE(driver.ok()) << driver.status();
  const std::vector<SegmentOrder> orders = driver->Orders(false, false);
  auto plain = LocalExecutor::Create(*spec, driver->ladder(), 2, false);
  auto overlapping = LocalExecutor::Create(*spec, driver->ladder(), 2, false);
  ASSERT_TRUE(plain.ok() && overlapping.ok());
  absl::StatusOr<std::vector<SegmentResult>> expected =
      (*plain)->RunSegments(orders);
  ASSERT_TRUE(expected.ok()) << expected.status();
  int called = 0;
  absl::StatusOr<std::vector<SegmentResult>> results =
      (*overlapping)->RunSegmentsOverlapping(orders, [&] {
        ++called;
        EXPECT_FALSE((*overlapping)->SlotFree());
      });
  ASSERT_TRUE(results.ok()) << results.status();
  EXPECT_EQ(called, 1);
  ASSERT_EQ(results->size(), expected->size());
  for (size_t i = 0; i < results->size(); ++i) {
    EXPECT_EQ((*results)[i].potential_kj_mol, (*expected)[i].potential_kj_mol)
        << "replica " << i;
  }
  EXPECT_TRUE((*overlapping)->SlotFree());
}

// RunJob hands a round's report to on_round while the next round's segments
// run; a run stopped without a results directory still reports every round
// it completed, the last one included.
TEST(RunJobTest, AStoppedRunReportsEveryRoundItCompleted) {
  absl::StatusOr<v1::JobSpec> spec = spec::LoadYamlFile(
      testing::SourcePath("examples/harmonic-oscillator/job.yaml"));
  ASSERT_TRUE(spec.ok()) << spec.status();
  spec->mutable_exchange()->set_n_rounds(10);
  spec->clear_output();
  RunOptions options;
  options.threads = 2;
  std::vector<int64_t> reported;
  options.on_round = [&](const RoundReport& report) {
    reported.push_back(report.outcome.round);
    return absl::OkStatus();
  };
  int checks = 0;  // one at the start of each round: stop before round 3
  options.should_stop = [&](double) { return ++checks == 4; };
  const absl::StatusOr<RunResult> result = RunJob(*spec, options);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kCancelled)
      << result.status();
  EXPECT_EQ(reported, (std::vector<int64_t>{0, 1, 2}));
}

}  // namespace
}  // namespace replex::runner
