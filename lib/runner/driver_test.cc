// RoundDriver without OpenMM: results come from a fake, so these check the
// round bookkeeping itself.
#include "lib/runner/driver.h"

#include <cmath>

#include "gtest/gtest.h"
#include "lib/exchange/seeds.h"

namespace replex::runner {
namespace {

v1::JobSpec Spec(int n_rungs, bool hamiltonian) {
  v1::JobSpec spec;
  spec.set_seed(17);
  spec.mutable_exchange()->set_steps_per_exchange(10);
  spec.mutable_exchange()->set_n_rounds(6);
  v1::Ladder& ladder = *spec.mutable_ladder();
  for (int k = 0; k < n_rungs; ++k) ladder.add_temperatures_k(300 + 10 * k);
  if (hamiltonian) {
    v1::ParameterLadder& lambda = *ladder.add_parameters();
    lambda.set_name("lambda");
    for (int k = 0; k < n_rungs; ++k) lambda.add_values(0.1 * k);
  }
  return spec;
}

// Energies that depend on replica and round only, like a real run would.
std::vector<SegmentResult> FakeResults(
    const std::vector<SegmentOrder>& orders) {
  std::vector<SegmentResult> results;
  for (const SegmentOrder& order : orders) {
    SegmentResult result;
    result.potential_kj_mol = std::sin(order.replica * 7.0 + order.round);
    for (int rung : order.evaluate_rungs) {
      result.reduced.push_back(result.potential_kj_mol * (1 + 0.1 * rung));
    }
    results.push_back(result);
  }
  return results;
}

TEST(RoundDriverTest, OrdersCarryRungsSeedsAndTheRungsToEvaluate) {
  auto driver = RoundDriver::Create(Spec(4, /*hamiltonian=*/true));
  ASSERT_TRUE(driver.ok()) << driver.status();
  const std::vector<SegmentOrder> orders = driver->Orders(false);
  ASSERT_EQ(orders.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(orders[i].replica, i);
    EXPECT_EQ(orders[i].rung, i);
    EXPECT_EQ(orders[i].steps, 10);
    EXPECT_EQ(orders[i].segment_seed, exchange::SegmentSeed(17, i, 0));
    // neighbors, round 0: pairs (0,1) and (2,3); plus its own rung.
    EXPECT_EQ(orders[i].evaluate_rungs, (std::vector<int>{i ^ 1, i}));
  }
  // Temperature-only ladders need only the potential energy.
  auto tremd = RoundDriver::Create(Spec(4, false));
  EXPECT_TRUE(tremd->Orders(false)[0].evaluate_rungs.empty());
}

TEST(RoundDriverTest, RunsToTheEndKeepingABijection) {
  auto driver = RoundDriver::Create(Spec(5, true));
  ASSERT_TRUE(driver.ok());
  while (!driver->done()) {
    auto completed = driver->Complete(FakeResults(driver->Orders(false)));
    ASSERT_TRUE(completed.ok()) << completed.status();
    EXPECT_TRUE(exchange::Permutation::FromRungOfReplica(
                    driver->permutation().rung_of_replica())
                    .ok());
  }
  EXPECT_EQ(driver->round(), 6);
  EXPECT_EQ(driver->statistics().rounds(), 6);
}

TEST(RoundDriverTest, BadResultsChangeNothing) {
  auto driver = RoundDriver::Create(Spec(4, true));
  std::vector<SegmentResult> results = FakeResults(driver->Orders(false));
  results.pop_back();
  EXPECT_EQ(driver->Complete(results).status().code(),
            absl::StatusCode::kInternal);
  results = FakeResults(driver->Orders(false));
  results[2].reduced.pop_back();
  EXPECT_FALSE(driver->Complete(results).ok());
  results = FakeResults(driver->Orders(false));
  results[1].reduced[0] = NAN;
  EXPECT_EQ(driver->Complete(results).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(driver->round(), 0);
  EXPECT_EQ(driver->statistics().rounds(), 0);
  EXPECT_TRUE(driver->Complete(FakeResults(driver->Orders(false))).ok());
  EXPECT_EQ(driver->round(), 1);
}

// Energies whose swaps are accepted about half the time, so the decisions
// depend on the random numbers and hence on the seed.
std::vector<SegmentResult> CoinFlipResults(
    const std::vector<SegmentOrder>& orders) {
  std::vector<SegmentResult> results = FakeResults(orders);
  for (SegmentResult& result : results) result.potential_kj_mol *= 3;
  return results;
}

std::vector<std::vector<int>> Log(uint64_t seed) {
  v1::JobSpec spec = Spec(6, false);
  spec.set_seed(seed);
  spec.mutable_exchange()->set_n_rounds(40);
  auto driver = RoundDriver::Create(spec);
  std::vector<std::vector<int>> log;
  while (!driver->done()) {
    EXPECT_TRUE(driver->Complete(CoinFlipResults(driver->Orders(false))).ok());
    log.push_back(driver->permutation().rung_of_replica());
  }
  return log;
}

TEST(RoundDriverTest, DecisionsDependOnTheSeedAlone) {
  EXPECT_EQ(Log(17), Log(17));
  EXPECT_NE(Log(17), Log(18));
}

// A driver that replays another's rounds (a journal's exchange log) ends
// where that one is: round, permutation and statistics alike, so the rounds
// after it are decided the same way.
TEST(RoundDriverTest, ReplayingRoundsRestoresTheExchangeState) {
  auto original = RoundDriver::Create(Spec(5, false));
  std::vector<exchange::RoundOutcome> log;
  for (int r = 0; r < 4; ++r) {
    auto completed = original->Complete(FakeResults(original->Orders(false)));
    ASSERT_TRUE(completed.ok()) << completed.status();
    log.push_back((*completed)->outcome);
    log.back().before = exchange::Permutation::Identity(5);  // not needed
  }
  auto replayed = RoundDriver::Create(Spec(5, false));
  ASSERT_TRUE(replayed->Replay(log).ok());
  EXPECT_EQ(replayed->round(), 4);
  EXPECT_EQ(replayed->permutation(), original->permutation());
  EXPECT_EQ(replayed->statistics().pair_attempts(),
            original->statistics().pair_attempts());
  EXPECT_EQ(replayed->statistics().pair_accepts(),
            original->statistics().pair_accepts());
  EXPECT_EQ(replayed->statistics().RoundTrips(),
            original->statistics().RoundTrips());
  // Both decide the next round alike.
  auto next = original->Complete(FakeResults(original->Orders(false)));
  auto next_replayed = replayed->Complete(FakeResults(replayed->Orders(false)));
  EXPECT_EQ((*next)->outcome.after, (*next_replayed)->outcome.after);

  // Rounds that do not follow on change nothing.
  auto fresh = RoundDriver::Create(Spec(5, false));
  const std::vector<exchange::RoundOutcome> gap = {log[1]};
  EXPECT_EQ(fresh->Replay(gap).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(fresh->round(), 0);
}

}  // namespace
}  // namespace replex::runner
