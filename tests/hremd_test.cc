// H-REMD over the harmonic force constant K at one temperature (gibbs
// scheme). At rung k the configuration has r^2 ~ (k_B T / K_k) chi^2_d, so
// its own reduced potential beta K_k r^2 / 2 is Gamma(d/2, 1) whatever K_k:
// a replica that kept the wrong K after a swap would show up as a scale error.
// Its reduced potential at rung 0's Hamiltonian, beta K_0 r^2 / 2, must be
// Gamma(d/2, K_0 / K_k): that checks the cross-rung evaluations the swaps are
// decided on. (The two KS statistics coincide when both hold, since one value
// is the other times K_0 / K_k.) Neighbouring rungs must accept swaps at
// the exact rate: with u = beta K r^2 / 2, a K ladder is a temperature
// ladder in beta K, so the T-REMD formula holds with K_{k+1} / K_k (sqrt 2
// here) as the ratio of betas.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/engine/engine.h"
#include "lib/exchange/ladder.h"
#include "lib/runner/runner.h"
#include "lib/spec/spec.h"
#include "tests/sampling_checks.h"

namespace replex::testing {
namespace {

// Runs `spec` (the harmonic oscillators over K, with one temperature or a
// temperature per rung) and checks the theory above with b_k = K_k / T_k in
// place of K_k: u_k = b_k r^2 / (2 k_B) is what the swaps see. An adaptive
// ladder's production rounds are checked, on the frozen ladder, which is
// returned.
exchange::Ladder ExpectHarmonicLadderTheory(const v1::JobSpec& spec) {
  exchange::Ladder ladder = *spec::BuildLadder(spec.ladder());
  EXPECT_FALSE(ladder.temperature_only());
  const int64_t production = spec.ladder().adapt().rounds();
  const auto& names = ladder.parameter_names();
  const auto k_index =
      std::find(names.begin(), names.end(), "K") - names.begin();
  EXPECT_LT(k_index, static_cast<long>(names.size())) << "no parameter K";
  const auto model =
      engine::Model::Load(spec.system_xml(), spec.state_xml(), spec.pdb());
  EXPECT_TRUE(model.ok()) << model.status();
  if (k_index == static_cast<long>(names.size()) || !model.ok()) return ladder;
  const int dof = 3 * (*model)->num_particles();
  const int n = ladder.size();
  auto b = [&](int k) {
    return ladder.rung(k).parameters[k_index] / ladder.rung(k).temperature_k;
  };

  std::vector<std::vector<double>> own(n), at_rung0(n);
  // Per round, the share of the attempts between a pair of neighbouring rungs
  // accepted: gibbs makes several, each accepted with the same probability.
  const std::vector<exchange::Ladder::Pair>& pairs = ladder.pairs();
  std::vector<std::vector<double>> accepted_by_pair(pairs.size());
  std::vector<runner::LadderVersion> versions;
  runner::RunOptions options;
  options.threads = 2;
  options.on_round = [&](const runner::RoundReport& report) {
    if (report.ladder_versions != nullptr) versions = *report.ladder_versions;
    if (report.outcome.round < production) return absl::OkStatus();
    for (int i = 0; i < n; ++i) {
      const int k = report.outcome.before.rung_of_replica(i);
      own[k].push_back(report.reduced.Get(i, k));
      at_rung0[k].push_back(report.reduced.Get(i, 0));
    }
    for (size_t p = 0; p < pairs.size(); ++p) {
      if (const int64_t attempts = report.outcome.pair_attempts[p];
          attempts > 0) {
        accepted_by_pair[p].push_back(
            static_cast<double>(report.outcome.pair_accepts[p]) / attempts);
      }
    }
    return absl::OkStatus();
  };
  const auto result = runner::RunJob(spec, options);
  EXPECT_TRUE(result.ok()) << result.status();
  if (!result.ok()) return ladder;
  if (production > 0) {
    // The frozen ladder is the last version, which starts production.
    EXPECT_FALSE(versions.empty());
    if (versions.empty()) return ladder;
    EXPECT_EQ(versions.back().from_round, production);
    ladder = *runner::WithVersion(ladder, versions.back());
  }

  for (int k = 0; k < n; ++k) {
    const double ratio = b(0) / b(k);
    const std::string rung = "rung " + std::to_string(k);
    ExpectDistributed(
        own[k], [&](double u) { return GammaCdf(dof / 2.0, 1.0, u); },
        rung + " own reduced potential");
    ExpectDistributed(
        at_rung0[k], [&](double u) { return GammaCdf(dof / 2.0, ratio, u); },
        rung + " reduced potential at rung 0");
  }
  for (size_t p = 0; p < pairs.size(); ++p) {
    const double b_low = b(pairs[p].lower), b_high = b(pairs[p].upper);
    ExpectMeanNear(accepted_by_pair[p],
                   HarmonicSwapAcceptance(dof, std::max(b_low, b_high),
                                          std::min(b_low, b_high)),
                   "acceptance of pair " + std::to_string(pairs[p].lower) +
                       "-" + std::to_string(pairs[p].upper));
  }
  // Swaps happened: otherwise the test above says nothing about exchange.
  EXPECT_GT(result->round_trips, 0);
  return ladder;
}

TEST(HarmonicOscillatorHremd, ReducedPotentialsMatchTheory) {
  ExpectHarmonicLadderTheory(
      LoadExample("examples/harmonic-oscillator/hremd.yaml"));
}

// Temperature and K change together, rung by rung (a combined T + parameter
// ladder): b_{k+1} / b_k = sqrt(2) as in the example, from a temperature
// ratio of 1.1 and a K ratio of 1.1 sqrt(2), so the exact acceptance is the
// example's 0.5575 while both the temperature scaling of the swap and the
// parameter hand-over are exercised.
TEST(HarmonicOscillatorHremd,
     ACombinedTemperatureAndParameterLadderMatchesTheory) {
  v1::JobSpec spec = LoadExample("examples/harmonic-oscillator/hremd.yaml");
  v1::Ladder& ladder = *spec.mutable_ladder();
  ladder.clear_temperature_k();
  ladder.clear_n_rungs();
  double t = 300, k = 4000;
  ladder.mutable_parameters(0)->clear_values();
  for (int rung = 0; rung < 4; ++rung) {
    ladder.add_temperatures_k(t);
    ladder.mutable_parameters(0)->add_values(k);
    t *= 1.1;
    k *= 1.1 * std::sqrt(2.0);
  }
  ExpectHarmonicLadderTheory(spec);
}

// examples/harmonic-oscillator/adaptive-hremd.yaml: an adaptive K ladder,
// from a deliberately bad one (three rungs crowded at
// the bottom: exact neighbour acceptances 0.87, 0.88 and 0.15), moves along
// K to equal acceptance, then the frozen ladder's production rounds match
// the theory above, acceptance included. The ladder of equal acceptance is
// geometric in K between the ends (swapping K is swapping beta K), where
// every pair's exact acceptance is the example's 0.5575; on the frozen
// ladder the exact acceptances (from its own K ratios) must lie within 0.1
// of each other, against 0.73 apart on the bad one.
// (RoundDriverTest.AParameterLadderAdaptsAlongItsParameter checks the
// spread of the frozen values over many seeds with exact sampling.)
TEST(HarmonicOscillatorHremd, AnAdaptiveParameterLadderEqualisesAcceptance) {
  const v1::JobSpec spec =
      LoadExample("examples/harmonic-oscillator/adaptive-hremd.yaml");
  ASSERT_THAT(spec.ladder().parameters(0).values(),
              ::testing::ElementsAre(4000, 4400, 4800, 11314));
  const exchange::Ladder frozen = ExpectHarmonicLadderTheory(spec);
  const auto model =
      engine::Model::Load(spec.system_xml(), spec.state_xml(), spec.pdb());
  ASSERT_TRUE(model.ok()) << model.status();
  const int dof = 3 * (*model)->num_particles();
  std::vector<double> exact;
  for (int k = 0; k + 1 < frozen.size(); ++k) {
    exact.push_back(HarmonicSwapAcceptance(
        dof, frozen.rung(k + 1).parameters[0], frozen.rung(k).parameters[0]));
  }
  EXPECT_EQ(frozen.rung(0).parameters[0], 4000);
  EXPECT_EQ(frozen.rung(3).parameters[0], 11314);
  EXPECT_LT(*std::max_element(exact.begin(), exact.end()) -
                *std::min_element(exact.begin(), exact.end()),
            0.1)
      << "exact acceptances on the frozen ladder " << exact[0] << ", "
      << exact[1] << ", " << exact[2];
}

// examples/harmonic-oscillator/grid.yaml: a temperature x K grid (3 x 3
// rungs) under `neighbors`, which exchanges along one axis a round. Every
// grid point's reduced potentials follow the theory above, and every pair
// along either axis accepts at its exact rate (b ratio 1/1.1 along
// temperature, sqrt 2 along K). Every rung's energy is evaluated each round
// (energies_every: 1) for the check at rung 0.
TEST(HarmonicOscillatorHremd, ATemperatureByParameterGridMatchesTheory) {
  v1::JobSpec spec = LoadExample("examples/harmonic-oscillator/grid.yaml");
  spec.mutable_exchange()->set_energies_every(1);
  const absl::StatusOr<exchange::Ladder> ladder =
      spec::BuildLadder(spec.ladder());
  ASSERT_TRUE(ladder.ok()) << ladder.status();
  ASSERT_EQ(ladder->shape(), (std::vector<int>{3, 3}));
  ExpectHarmonicLadderTheory(spec);
}

}  // namespace
}  // namespace replex::testing
