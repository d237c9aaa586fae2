// A double well whose barrier traps plain MD at the lowest temperature: with
// T-REMD the lowest rung's population of each well matches the exact
// Boltzmann ratio, obtained by numerical integration of exp(-beta U) along x
// with U evaluated by the engine itself (so the test needs no copy of the
// example's constants). Plain MD (scheme `none`) at the same length does not.
#include <algorithm>
#include <cmath>
#include <vector>

#include "gtest/gtest.h"
#include "lib/engine/engine.h"
#include "lib/exchange/ladder.h"
#include "lib/runner/report.h"
#include "lib/runner/runner.h"
#include "lib/spec/spec.h"
#include "tests/sampling_checks.h"
#include "tests/scripted_slots.h"

namespace replex::testing {
namespace {

struct WellProfile {
  double barrier_x = 0;        // nm, the maximum between the two wells
  double left_population = 0;  // exact, at the lowest rung's temperature
};

// U(x, 0, 0) on a grid; the particle's y and z motion is a separate harmonic
// factor and drops out of the population ratio.
WellProfile ExactProfile(const v1::JobSpec& spec,
                         const exchange::Ladder& ladder) {
  auto model =
      engine::Model::Load(spec.system_xml(), spec.state_xml(), spec.pdb());
  EXPECT_TRUE(model.ok()) << model.status();
  engine::EngineOptions options;
  options.platform = "Reference";
  auto replica = engine::Replica::Create(*model, options, ladder, 0, 1);
  EXPECT_TRUE(replica.ok()) << replica.status();
  engine::PortableState state = (*model)->initial_state();
  state.velocities_nm_per_ps.assign(state.positions_nm.size(), {0, 0, 0});
  const double lo = -3, hi = 3;  // nm; the wells sit well inside
  const int points = 6001;
  std::vector<double> x(points), u(points);
  for (int i = 0; i < points; ++i) {
    x[i] = lo + (hi - lo) * i / (points - 1);
    state.positions_nm[0] = {x[i], 0, 0};
    const absl::Status restored = (*replica)->Restore(state);
    EXPECT_TRUE(restored.ok()) << restored;
    u[i] = *(*replica)->PotentialEnergy();
  }
  // The barrier: the highest interior local maximum of U along x.
  int barrier = -1;
  for (int i = 1; i + 1 < points; ++i) {
    if (u[i] >= u[i - 1] && u[i] >= u[i + 1] &&
        (barrier < 0 || u[i] > u[barrier])) {
      barrier = i;
    }
  }
  EXPECT_GT(barrier, 0) << "no barrier found on [-3, 3] nm";
  const double beta = ladder.beta(0);
  double left = 0, right = 0;
  for (int i = 0; i < points; ++i) {
    const double w = std::exp(-beta * (u[i] - u[barrier]));
    (i < barrier ? left : right) += w;
  }
  // The weight must have vanished at the grid's ends, or the grid is too
  // short and the integral wrong.
  EXPECT_LT(std::exp(-beta * (u.front() - u[barrier])), 1e-12 * (left + right));
  EXPECT_LT(std::exp(-beta * (u.back() - u[barrier])), 1e-12 * (left + right));
  return {x[barrier], left / (left + right)};
}

// Whether the lowest rung's configuration was in the left well, per round.
std::vector<double> LowestRungInLeftWell(const v1::JobSpec& spec,
                                         double barrier_x) {
  std::vector<double> in_left;
  runner::RunOptions options;
  options.threads = 2;
  options.positions_every = 1;
  options.on_round = [&](const runner::RoundReport& report) {
    const int replica = report.outcome.before.replica_at_rung(0);
    in_left.push_back((*report.positions_nm)[replica][0][0] < barrier_x);
    return absl::OkStatus();
  };
  const auto result = runner::RunJob(spec, options);
  EXPECT_TRUE(result.ok()) << result.status();
  return in_left;
}

TEST(DoubleWell, RemdRecoversTheExactPopulationsThatPlainMdMisses) {
  v1::JobSpec spec = LoadExample("examples/double-well/job.yaml");
  const exchange::Ladder ladder = *spec::BuildLadder(spec.ladder());
  const WellProfile exact = ExactProfile(spec, ladder);
  // A ratio far from 1:1 makes the check meaningful.
  ASSERT_GT(std::abs(exact.left_population - 0.5), 0.1);

  ExpectMeanNear(LowestRungInLeftWell(spec, exact.barrier_x),
                 exact.left_population, "REMD lowest-rung left population");

  spec.mutable_exchange()->set_scheme(v1::Exchange::NONE);
  const std::vector<double> plain = LowestRungInLeftWell(spec, exact.barrier_x);
  // Trapped: one well only, so its population is 0 or 1, far from exact.
  EXPECT_GT(std::abs(Mean(plain) - exact.left_population), 0.15)
      << "plain MD crossed the barrier: the example does not show REMD's "
         "benefit";
}

// Asynchronous exchange: the lowest rung still gets its exact populations.
// Samples are taken when the replica at rung 0 is in an event (it has just
// finished a segment there); which replicas meet depends on timing, not on
// configurations, so these are samples of rung 0's distribution. 5 replicas
// bound to 2 scripted slots (reproducible), `gibbs` (the scheme to use with
// asynchronous exchange).
TEST(DoubleWell, AsynchronousExchangeRecoversTheExactPopulations) {
  v1::JobSpec spec = LoadExample("examples/double-well/job.yaml");
  spec.mutable_exchange()->set_mode(v1::Exchange::ASYNCHRONOUS);
  spec.mutable_exchange()->set_scheme(v1::Exchange::GIBBS);
  const WellProfile exact =
      ExactProfile(spec, *spec::BuildLadder(spec.ladder()));
  std::vector<double> in_left;
  runner::RunOptions options;
  options.positions_every = 1;
  options.on_round = [&](const runner::RoundReport& report) {
    const int replica = report.outcome.before.replica_at_rung(0);
    const std::vector<int>& replicas = *report.replicas;
    if (std::find(replicas.begin(), replicas.end(), replica) ==
        replicas.end()) {
      return absl::OkStatus();
    }
    in_left.push_back((*report.positions_nm)[replica][0][0] < exact.barrier_x);
    return absl::OkStatus();
  };
  const auto result = RunScriptedAsynchronous(spec, options);
  ASSERT_TRUE(result.ok()) << result.status();
  ExpectMeanNear(in_left, exact.left_population,
                 "asynchronous REMD lowest-rung left population");
}

// From a ladder crowded at the bottom, 300, 320, 340, 360, 2000 K (neighbour
// acceptance about 0.96, 0.96, 0.97, 0.18), the adaptation phase (4 changes,
// 1500 rounds each) spreads the rungs so that every pair accepts about
// equally, and production at the frozen ladder still gives the lowest rung
// (300 K, an end, which adaptation keeps) its exact populations. Each change
// measures a pair's acceptance over about 750 attempts, to a standard error
// of about 0.017; the frozen ladder's acceptance is left that far from equal,
// so every pair must be within 0.08 (4.7 of them) of the pairs' mean, where
// the first ladder's were 0.6 apart.
TEST(DoubleWell, AnAdaptiveLadderEqualisesAcceptanceAndStillSamplesExactly) {
  v1::JobSpec spec = LoadExample("examples/double-well/job.yaml");
  const WellProfile exact =
      ExactProfile(spec, *spec::BuildLadder(spec.ladder()));
  v1::Ladder& ladder = *spec.mutable_ladder();
  ladder.clear_n_rungs();
  ladder.clear_temperature_range_k();
  for (double t : {300, 320, 340, 360, 2000}) ladder.add_temperatures_k(t);
  ladder.mutable_adapt()->set_rounds(6000);
  ladder.mutable_adapt()->set_interval(1500);

  std::vector<double> in_left;
  std::vector<int64_t> attempts(4), accepts(4);
  std::vector<runner::LadderVersion> versions;
  runner::RunOptions options;
  options.threads = 2;
  options.positions_every = 1;
  options.on_round = [&](const runner::RoundReport& report) {
    versions = *report.ladder_versions;
    if (report.outcome.round < 6000) return absl::OkStatus();
    const int replica = report.outcome.before.replica_at_rung(0);
    in_left.push_back((*report.positions_nm)[replica][0][0] < exact.barrier_x);
    for (int k = 0; k < 4; ++k) {
      attempts[k] += report.outcome.pair_attempts[k];
      accepts[k] += report.outcome.pair_accepts[k];
    }
    return absl::OkStatus();
  };
  ASSERT_TRUE(runner::RunJob(spec, options).ok());
  ASSERT_EQ(versions.size(), 5u);
  ExpectAcceptanceEqualised(versions.front().acceptance, 0.6, attempts, accepts,
                            0.08);
  ExpectMeanNear(in_left, exact.left_population,
                 "adaptive REMD lowest-rung left population");
}

}  // namespace
}  // namespace replex::testing
