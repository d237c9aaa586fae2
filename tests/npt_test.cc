// NPT T-REMD through the real engine (OpenMM's Reference platform): an ideal
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

TEST(NptIdealGasTremd, VolumesAndEnergiesMatchTheoryOnEveryRung) {
  const v1::JobSpec spec = LoadExample("examples/npt-ideal-gas/job.yaml");
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

}  // namespace
}  // namespace replex::testing
