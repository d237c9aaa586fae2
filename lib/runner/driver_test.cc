// RoundDriver without OpenMM: results come from a fake, so these check the
// round bookkeeping itself.
#include "lib/runner/driver.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/exchange/ladder.h"
#include "lib/exchange/ladder_tuning.h"
#include "lib/exchange/seeds.h"

namespace replex::runner {
namespace {

using ::testing::HasSubstr;

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

// Ladder [300, 310, 320, 600] K adapting every `interval` rounds for
// `rounds` rounds, of `n_rounds` in all.
v1::JobSpec AdaptiveSpec(int rounds, int interval, int n_rounds) {
  v1::JobSpec spec = Spec(0, false);
  v1::Ladder& ladder = *spec.mutable_ladder();
  for (double t : {300, 310, 320, 600}) ladder.add_temperatures_k(t);
  ladder.mutable_adapt()->set_rounds(rounds);
  ladder.mutable_adapt()->set_interval(interval);
  spec.mutable_exchange()->set_n_rounds(n_rounds);
  return spec;
}

// Exact sampling of 12 harmonic degrees of freedom: each segment's potential
// energy is a fresh draw from Gamma(6, k_B T) at the order's temperature, so
// swaps are accepted at their exact rates and the ladder of equal
// acceptance is geometric.
std::vector<SegmentResult> HarmonicResults(
    const std::vector<SegmentOrder>& orders) {
  std::vector<SegmentResult> results;
  for (const SegmentOrder& order : orders) {
    std::mt19937_64 random(order.segment_seed);
    const double kt = exchange::kMolarGasConstantKJPerMolK *
                      order.ladder->rung(order.rung).temperature_k;
    SegmentResult result;
    result.potential_kj_mol = std::gamma_distribution<double>(6, kt)(random);
    results.push_back(result);
  }
  return results;
}

TEST(RoundDriverTest, AnAdaptiveLadderMovesToEqualAcceptanceThenFreezes) {
  auto driver = RoundDriver::Create(AdaptiveSpec(2000, 400, 2400));
  ASSERT_TRUE(driver.ok()) << driver.status();
  std::vector<exchange::RoundOutcome> log;
  while (!driver->done()) {
    const std::vector<SegmentOrder> orders = driver->Orders(false);
    for (const SegmentOrder& order : orders) {
      // Every order carries the current version.
      ASSERT_NE(order.ladder, nullptr);
      ASSERT_EQ(order.ladder_version,
                static_cast<int>(driver->ladder_versions().size()) - 1);
      const double temperature = order.ladder->rung(order.rung).temperature_k;
      ASSERT_EQ(temperature,
                driver->ladder_versions().back().temperatures_k[order.rung]);
      ASSERT_EQ(temperature, driver->TemperatureAt(order.round, order.rung));
    }
    auto completed = driver->Complete(HarmonicResults(orders));
    ASSERT_TRUE(completed.ok()) << completed.status();
    log.push_back((*completed)->outcome);
  }
  const std::vector<LadderVersion>& versions = driver->ladder_versions();
  ASSERT_EQ(versions.size(), 6u);
  for (size_t v = 0; v < versions.size(); ++v) {
    EXPECT_EQ(versions[v].from_round, 400 * static_cast<int64_t>(v));
    EXPECT_EQ(versions[v].temperatures_k.front(), 300);
    EXPECT_EQ(versions[v].temperatures_k.back(), 600);
    // What each change acted on: (accepts + 1/2) / (attempts + 1) per pair
    // over the version's rounds; none yet for the frozen ladder.
    if (v + 1 == versions.size()) {
      EXPECT_TRUE(versions[v].acceptance.empty());
      continue;
    }
    for (int p = 0; p < 3; ++p) {
      int64_t attempts = 0, accepts = 0;
      for (int64_t r = versions[v].from_round; r < versions[v + 1].from_round;
           ++r) {
        attempts += log[r].pair_attempts[p];
        accepts += log[r].pair_accepts[p];
      }
      EXPECT_EQ(versions[v].acceptance[p], (accepts + 0.5) / (attempts + 1.0))
          << "version " << v << " pair " << p;
    }
  }
  // The first ladder's acceptance is far from equal (310 and 320 K are 18%
  // and 33% below the geometric ladder); the frozen one's temperatures are
  // near the geometric ladder, 300 * 2^(k/3) K. Over seeds 1-200 the frozen
  // temperatures' relative error had mean -0.4% and standard deviation 2.0%
  // (200 attempts per pair in the last interval), so 8% is 4 of them.
  EXPECT_GT(versions[0].acceptance[0] - versions[0].acceptance[2], 0.5);
  for (int k = 1; k < 3; ++k) {
    const double geometric = 300 * std::pow(2.0, k / 3.0);
    EXPECT_NEAR(versions.back().temperatures_k[k] / geometric, 1, 0.08)
        << "rung " << k << ": " << versions.back().temperatures_k[k] << " K";
  }
  // Statistics are the frozen ladder's rounds only.
  EXPECT_EQ(driver->statistics().rounds(), 400);
  EXPECT_EQ(driver->TemperatureAt(-1, 1), 310);
  EXPECT_EQ(driver->TemperatureAt(399, 1), 310);
  EXPECT_EQ(driver->TemperatureAt(400, 1), versions[1].temperatures_k[1]);
  EXPECT_EQ(driver->ladder().rung(1).temperature_k,
            versions.back().temperatures_k[1]);

  // Replaying the log (a restart, a rollback) reaches the same ladders bit
  // for bit, and so decides the rounds after it alike.
  auto replayed = RoundDriver::Create(AdaptiveSpec(2000, 400, 2400));
  ASSERT_TRUE(replayed->Replay(log).ok());
  ASSERT_EQ(replayed->ladder_versions().size(), versions.size());
  for (size_t v = 0; v < versions.size(); ++v) {
    EXPECT_EQ(replayed->ladder_versions()[v].temperatures_k,
              versions[v].temperatures_k);
    EXPECT_EQ(replayed->ladder_versions()[v].acceptance,
              versions[v].acceptance);
  }
  EXPECT_EQ(replayed->statistics().pair_attempts(),
            driver->statistics().pair_attempts());
}

// Runs `spec` to the end on exact samples of 12 harmonic degrees of
// freedom with force constant K (the ladder's first parameter) at the
// rung's temperature: at its own rung a replica's reduced potential is g ~
// Gamma(6, 1), and the same configuration at rung j has g (beta_j K_j) /
// (beta_k K_k), evaluated from the order's ladder version (as the engine
// does), so a worker holding a stale version would decide on the wrong
// energies.
RoundDriver RunExactK(const v1::JobSpec& spec) {
  absl::StatusOr<RoundDriver> driver = RoundDriver::Create(spec);
  EXPECT_TRUE(driver.ok()) << driver.status();
  auto exact = [](const std::vector<SegmentOrder>& orders) {
    std::vector<SegmentResult> results;
    for (const SegmentOrder& order : orders) {
      std::mt19937_64 random(order.segment_seed);
      const double g = std::gamma_distribution<double>(6, 1)(random);
      const exchange::Ladder& at = *order.ladder;
      auto beta_k = [&](int rung) {
        return at.beta(rung) * at.rung(rung).parameters[0];
      };
      SegmentResult result;
      result.potential_kj_mol = g / at.beta(order.rung);
      for (int rung : order.evaluate_rungs) {
        result.reduced.push_back(g * beta_k(rung) / beta_k(order.rung));
      }
      results.push_back(std::move(result));
    }
    return results;
  };
  while (!driver->done()) {
    auto completed = driver->Complete(exact(driver->Orders(false)));
    EXPECT_TRUE(completed.ok()) << completed.status();
    if (!completed.ok()) break;
  }
  return *std::move(driver);
}

// A parameter ladder adapts along its parameter (RunExactK at one
// temperature, where g at rung j is g K_j / K_k). Swapping K is swapping
// beta K, so the ladder of equal acceptance is geometric in K between the
// ends. Over seeds
// 1-200 (this schedule) the frozen inner K's relative error from geometric
// had mean +0.5% and standard deviation 2.5% (the largest 7.7%); 10% is 4
// of them.
RoundDriver AdaptKLadder(uint64_t seed) {
  v1::JobSpec spec = AdaptiveSpec(2000, 400, 2400);
  spec.set_seed(seed);
  v1::Ladder& ladder = *spec.mutable_ladder();
  ladder.clear_temperatures_k();
  ladder.set_temperature_k(300);
  v1::ParameterLadder& k_ladder = *ladder.add_parameters();
  k_ladder.set_name("K");
  for (double k : {4000, 4200, 4400, 11314}) k_ladder.add_values(k);
  return RunExactK(spec);
}

TEST(RoundDriverTest, AParameterLadderAdaptsAlongItsParameter) {
  const RoundDriver adapted = AdaptKLadder(17);
  const RoundDriver* driver = &adapted;
  const std::vector<LadderVersion>& versions = driver->ladder_versions();
  ASSERT_EQ(versions.size(), 6u);
  EXPECT_GT(versions[0].acceptance[0] - versions[0].acceptance[2], 0.5);
  const double ratio = 11314.0 / 4000;
  for (int k = 0; k < 4; ++k) {
    EXPECT_EQ(versions.back().temperatures_k[k], 300);
    ASSERT_EQ(versions.back().parameters[k].size(), 1u);
    const double geometric = 4000 * std::pow(ratio, k / 3.0);
    EXPECT_NEAR(versions.back().parameters[k][0] / geometric, 1, 0.10)
        << "rung " << k << ": K " << versions.back().parameters[k][0];
  }
  EXPECT_EQ(versions.back().parameters.front()[0], 4000);
  EXPECT_EQ(versions.back().parameters.back()[0], 11314);
  EXPECT_EQ(driver->ladder().rung(1).parameters, versions.back().parameters[1]);
}

// A temperature x K grid adapts each axis along its own values (RunExactK
// at temperature T_t and force constant K_l). A pair along the temperature
// axis then accepts as in
// beta alone, whatever the line's K, and one along K as in K alone, so the
// pooled estimate is exact and each frozen axis should be geometric.
RoundDriver AdaptGrid(uint64_t seed) {
  v1::JobSpec spec = AdaptiveSpec(2000, 400, 2400);
  spec.set_seed(seed);
  v1::Ladder& ladder = *spec.mutable_ladder();
  v1::Ladder grid;
  *grid.add_axes()->mutable_temperatures_k() = ladder.temperatures_k();
  v1::ParameterLadder& k_ladder = *grid.add_axes()->add_parameters();
  k_ladder.set_name("K");
  for (double k : {4000, 4200, 4400, 11314}) k_ladder.add_values(k);
  *grid.mutable_adapt() = ladder.adapt();
  ladder = grid;
  return RunExactK(spec);
}

// Over seeds 1-200 the frozen inner temperatures' and K's relative errors
// from geometric had mean -0.04% and standard deviation 1.5% (the largest
// 5.1%; each axis pools its pairs over 4 lines); 6% is 4 of them.
TEST(RoundDriverTest, AGridAdaptsEachAxisAlongItsOwnValues) {
  const RoundDriver driver = AdaptGrid(17);
  const std::vector<LadderVersion>& versions = driver.ladder_versions();
  ASSERT_EQ(versions.size(), 6u);
  ASSERT_EQ(versions[0].acceptance.size(), driver.ladder().pairs().size());
  // The first grid's temperature pairs (axis 0's, listed first) were far
  // from equal: 300-310 K against 320-600 K on the first K line.
  EXPECT_GT(versions[0].acceptance[0] - versions[0].acceptance[8], 0.5);
  const LadderVersion& frozen = versions.back();
  for (int t = 0; t < 4; ++t) {
    for (int l = 0; l < 4; ++l) {
      const int k = 4 * t + l;
      SCOPED_TRACE(absl::StrCat("rung (", t, ", ", l, ")"));
      // Every version is a product grid: T by row, K by column.
      EXPECT_EQ(frozen.temperatures_k[k], frozen.temperatures_k[4 * t]);
      EXPECT_EQ(frozen.parameters[k], frozen.parameters[l]);
      EXPECT_NEAR(frozen.temperatures_k[k] / (300 * std::pow(2.0, t / 3.0)), 1,
                  0.06);
      EXPECT_NEAR(
          frozen.parameters[k][0] / (4000 * std::pow(11314.0 / 4000, l / 3.0)),
          1, 0.06);
    }
  }
  EXPECT_EQ(frozen.temperatures_k.front(), 300);
  EXPECT_EQ(frozen.temperatures_k.back(), 600);
  EXPECT_EQ(frozen.parameters.back()[0], 11314);
  EXPECT_EQ(driver.ladder().shape(), (std::vector<int>{4, 4}));
  EXPECT_EQ(driver.ladder().rung(5).temperature_k, frozen.temperatures_k[5]);
  EXPECT_EQ(driver.statistics().rounds(), 400);
}

// The round-trip target (feedback-optimised ladders) moves rungs until the
// fraction of up-going replicas falls by the same step from rung to rung.
// In this model, with the ladder frozen after 5 changes of 1000 rounds and
// 4000 rounds of production, the largest minus the smallest fall was 0.048
// on average and at most 0.136 over seeds 1-40; under the equal-acceptance
// target it was 0.24 on average (f = 1, 0.60, 0.41, 0 there: even/odd sweeps
// do not diffuse, so equal acceptance does not even out f).
TEST(RoundDriverTest, TheRoundTripTargetEvensOutTheFractionUp) {
  v1::JobSpec spec = AdaptiveSpec(5000, 1000, 9000);
  spec.mutable_ladder()->mutable_adapt()->set_target(
      v1::LadderAdaptation::ROUND_TRIPS);
  auto driver = RoundDriver::Create(spec);
  ASSERT_TRUE(driver.ok()) << driver.status();
  while (!driver->done()) {
    ASSERT_TRUE(driver->Complete(HarmonicResults(driver->Orders(false))).ok());
  }
  ASSERT_EQ(driver->ladder_versions().size(), 6u);
  const std::vector<double> f = driver->statistics().FractionUp();
  double low = 1, high = 0;
  for (int k = 0; k < 3; ++k) {
    low = std::min(low, f[k] - f[k + 1]);
    high = std::max(high, f[k] - f[k + 1]);
  }
  EXPECT_LT(high - low, 0.16)
      << "f = " << f[0] << ", " << f[1] << ", " << f[2] << ", " << f[3];
  // The rungs moved up from 310 and 320 K.
  EXPECT_GT(driver->ladder().rung(1).temperature_k, 330);
  EXPECT_GT(driver->ladder().rung(2).temperature_k, 430);
  // Each version records the f that chose the next one.
  const std::vector<LadderVersion>& versions = driver->ladder_versions();
  for (size_t v = 0; v + 1 < versions.size(); ++v) {
    ASSERT_EQ(versions[v].fraction_up.size(), 4u) << "version " << v;
    EXPECT_EQ(versions[v].fraction_up.front(), 1);
    EXPECT_EQ(versions[v].fraction_up.back(), 0);
    absl::StatusOr<exchange::Ladder> ladder =
        WithVersion(driver->ladder(), versions[v]);
    ASSERT_TRUE(ladder.ok()) << ladder.status();
    absl::StatusOr<std::vector<exchange::Rung>> next =
        exchange::RoundTripLadder(*ladder, versions[v].fraction_up);
    ASSERT_TRUE(next.ok()) << next.status();
    for (size_t k = 0; k < next->size(); ++k) {
      EXPECT_EQ((*next)[k].temperature_k, versions[v + 1].temperatures_k[k])
          << "version " << v << " rung " << k;
    }
  }
  EXPECT_TRUE(versions.back().fraction_up.empty());
}

// Rungs so far apart that no swap is accepted: the inner rungs are visited
// only by replicas that never reached an end, so the round-trip tuner has no
// fraction up for them, and each version says why the next repeats it.
TEST(RoundDriverTest, AVersionThatCannotMoveSaysWhy) {
  v1::JobSpec spec = AdaptiveSpec(20, 10, 30);
  v1::Ladder& ladder = *spec.mutable_ladder();
  ladder.clear_temperatures_k();
  for (double t : {300, 3000, 30000, 300000}) ladder.add_temperatures_k(t);
  ladder.mutable_adapt()->set_target(v1::LadderAdaptation::ROUND_TRIPS);
  auto driver = RoundDriver::Create(spec);
  ASSERT_TRUE(driver.ok()) << driver.status();
  while (!driver->done()) {
    ASSERT_TRUE(driver->Complete(HarmonicResults(driver->Orders(false))).ok());
  }
  EXPECT_EQ(driver->statistics().pair_accepts(),
            (std::vector<int64_t>{0, 0, 0}));
  const std::vector<LadderVersion>& versions = driver->ladder_versions();
  ASSERT_EQ(versions.size(), 3u);
  for (size_t v = 0; v + 1 < versions.size(); ++v) {
    EXPECT_THAT(versions[v].unchanged_because,
                HasSubstr("rung 1 has no fraction of up-going replicas"))
        << "version " << v;
    EXPECT_EQ(versions[v + 1].temperatures_k, versions[v].temperatures_k);
  }
  EXPECT_EQ(versions.back().unchanged_because, "");
}

TEST(RoundDriverTest, AFixedLadderLeavesOrdersAtTheSpecsTemperatures) {
  auto driver = RoundDriver::Create(Spec(4, false));
  EXPECT_TRUE(driver->ladder_versions().empty());
  EXPECT_EQ(driver->TemperatureAt(0, 1), 0);
  for (const SegmentOrder& order : driver->Orders(false)) {
    EXPECT_EQ(order.ladder, nullptr);
    EXPECT_EQ(order.ladder_version, 0);
  }
}

}  // namespace
}  // namespace replex::runner
