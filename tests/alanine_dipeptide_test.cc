// An adaptive ladder on a molecule: alanine dipeptide in implicit solvent
// (examples/alanine-dipeptide, OBC, CPU platform), whose potential energy is
// not Gaussian and whose heat capacity is not constant, so the tuner's model
// holds only roughly. From a ladder crowded at the bottom the adaptation
// phase must still bring every pair's acceptance near the others'.
#include <algorithm>
#include <vector>

#include "gtest/gtest.h"
#include "lib/runner/report.h"
#include "lib/runner/runner.h"
#include "tests/sampling_checks.h"

namespace replex::testing {
namespace {

// 300, 302, 304, 306, 308, 450 K accept about 0.98 at the bottom and 0.16
// at the top. Three changes of 400 rounds each measure a pair's acceptance
// over about 200 attempts (standard error about 0.03 at a = 0.8), and the 600
// production rounds measure it over about 300 (about 0.02 more, before
// correlation), so a pair of the frozen ladder differs from the pairs' mean
// by about 0.036: 0.12 is 3.3 of those.
TEST(AlanineDipeptideAdaptiveLadder,
     FromACrowdedLadderReachesNearEqualAcceptance) {
  v1::JobSpec spec = LoadExample("examples/alanine-dipeptide/job.yaml");
  v1::Ladder& ladder = *spec.mutable_ladder();
  ladder.clear_n_rungs();
  ladder.clear_temperature_range_k();
  for (double t : {300, 302, 304, 306, 308, 450}) ladder.add_temperatures_k(t);
  ladder.mutable_adapt()->set_rounds(1200);
  ladder.mutable_adapt()->set_interval(400);
  spec.mutable_exchange()->set_steps_per_exchange(100);
  spec.mutable_exchange()->set_n_rounds(1800);
  spec.mutable_output()->set_frame_interval(0);

  std::vector<runner::LadderVersion> versions;
  std::vector<int64_t> attempts(5), accepts(5);
  runner::RunOptions options;
  options.threads = 2;
  options.on_round = [&](const runner::RoundReport& report) {
    versions = *report.ladder_versions;
    if (report.outcome.round < 1200) return absl::OkStatus();
    for (int k = 0; k < 5; ++k) {
      attempts[k] += report.outcome.pair_attempts[k];
      accepts[k] += report.outcome.pair_accepts[k];
    }
    return absl::OkStatus();
  };
  const auto result = runner::RunJob(spec, options);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(versions.size(), 4u);
  ExpectAcceptanceEqualised(versions.front().acceptance, 0.6, attempts, accepts,
                            0.12);
}

}  // namespace
}  // namespace replex::testing
