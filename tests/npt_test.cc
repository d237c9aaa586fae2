// NPT T-REMD through the real engine (OpenMM's Reference and CPU platforms:
// the CPU platform holds the process-global generator's lock only for each
// barostat move, Reference for whole segments): an ideal
// gas of harmonic dimers under a Monte Carlo barostat, whose every rung has
// exact distributions (examples/npt-ideal-gas/job.yaml says why): the volume
// V ~ Gamma(M + 1, k_B T / p) over M molecules, and the bonds' energy
// U ~ Gamma(3M/2, k_B T). Exchanges must decide on u = beta (U + p V); with
// the p V term left out the swaps carry volumes between rungs with the wrong
// weights, and the volume checks fail.
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "lib/engine/engine.h"
#include "lib/exchange/ladder.h"
#include "lib/runner/runner.h"
#include "lib/spec/spec.h"
#include "tests/sampling_checks.h"

namespace replex::testing {
namespace {

class NptIdealGasTremd : public ::testing::TestWithParam<const char*> {};

TEST_P(NptIdealGasTremd, VolumesAndEnergiesMatchTheoryOnEveryRung) {
  v1::JobSpec spec = LoadExample("examples/npt-ideal-gas/job.yaml");
  spec.set_platform(GetParam());
  const exchange::Ladder ladder = *spec::BuildLadder(spec.ladder());
  const auto model =
      engine::Model::Load(spec.system_xml(), spec.state_xml(), spec.pdb());
  ASSERT_TRUE(model.ok()) << model.status();
  ASSERT_TRUE((*model)->barostat().has_value());
  const double pressure = (*model)->barostat()->pressure_bar *
                          exchange::kKJPerMolPerBarNm3;  // kJ/mol/nm^3
  const int molecules = (*model)->num_particles() / 2;
  const int n = ladder.size();

  std::vector<std::vector<double>> volume_by_rung(n), energy_by_rung(n);
  runner::RunOptions options;
  options.threads = 2;
  options.on_round = [&](const runner::RoundReport& report) {
    for (int i = 0; i < n; ++i) {
      const int rung = report.outcome.before.rung_of_replica(i);
      volume_by_rung[rung].push_back(engine::BoxVolume(report.box_nm[i]));
      energy_by_rung[rung].push_back(report.potential_kj_mol[i]);
    }
    return absl::OkStatus();
  };
  const auto result = runner::RunJob(spec, options);
  ASSERT_TRUE(result.ok()) << result.status();

  for (int k = 0; k < n; ++k) {
    const double kt =
        exchange::kMolarGasConstantKJPerMolK * ladder.rung(k).temperature_k;
    ExpectDistributed(
        volume_by_rung[k],
        [&](double v) { return GammaCdf(molecules + 1, kt / pressure, v); },
        "rung " + std::to_string(k) + " volume");
    ExpectDistributed(
        energy_by_rung[k],
        [&](double u) { return GammaCdf(1.5 * molecules, kt, u); },
        "rung " + std::to_string(k) + " bond energy");
  }
}

// On CPU the replicas integrate in parallel and take the global generator's
// lock only for their barostat moves, each reseeded from its segment and move:
// two runs on two threads give the same volumes and energies, whichever
// replica's move comes first.
TEST(NptCpuTremd, RunsAreReproducibleWithReplicasInParallel) {
  v1::JobSpec spec = LoadExample("examples/npt-ideal-gas/job.yaml");
  spec.set_platform("CPU");
  spec.mutable_exchange()->set_n_rounds(60);
  auto run = [&] {
    std::vector<std::vector<double>> volumes, energies;
    runner::RunOptions options;
    options.threads = 2;
    options.on_round = [&](const runner::RoundReport& report) {
      std::vector<double>& v = volumes.emplace_back();
      for (const engine::Box& box : report.box_nm) {
        v.push_back(engine::BoxVolume(box));
      }
      energies.push_back(report.potential_kj_mol);
      return absl::OkStatus();
    };
    EXPECT_TRUE(runner::RunJob(spec, options).ok());
    return std::make_pair(volumes, energies);
  };
  const auto first = run();
  const auto second = run();
  ASSERT_EQ(first.first.size(), 60u);
  EXPECT_EQ(first, second);
  // The barostat moved the boxes.
  EXPECT_NE(first.first.front(), first.first.back());
}

INSTANTIATE_TEST_SUITE_P(Platforms, NptIdealGasTremd,
                         ::testing::Values("Reference", "CPU"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace replex::testing
