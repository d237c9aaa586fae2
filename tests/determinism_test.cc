// A job's result depends only on its spec and seed: on the Reference platform
// the exchange log and energies are bit-identical whether its replicas run on
// one thread or four.
#include <vector>

#include "gtest/gtest.h"
#include "lib/runner/runner.h"
#include "tests/sampling_checks.h"

namespace replex::testing {
namespace {

struct Log {
  std::vector<std::vector<int>> rung_of_replica;  // after each round
  std::vector<std::vector<double>> potentials;
  friend bool operator==(const Log& a, const Log& b) {
    return a.rung_of_replica == b.rung_of_replica &&
           a.potentials == b.potentials;  // exact: bit-for-bit
  }
};

Log RunAndLog(const v1::JobSpec& spec, int threads) {
  Log log;
  runner::RunOptions options;
  options.threads = threads;
  options.on_round = [&](const runner::RoundReport& report) {
    log.rung_of_replica.push_back(report.outcome.after.rung_of_replica());
    log.potentials.push_back(report.potential_kj_mol);
    return absl::OkStatus();
  };
  const auto result = runner::RunJob(spec, options);
  EXPECT_TRUE(result.ok()) << result.status();
  return log;
}

class DeterminismTest : public ::testing::TestWithParam<const char*> {};

TEST_P(DeterminismTest, SameLogWithOneOrFourThreads) {
  v1::JobSpec spec = LoadExample(GetParam());
  spec.set_platform("Reference");
  spec.mutable_exchange()->set_n_rounds(150);
  const Log one = RunAndLog(spec, 1);
  const Log four = RunAndLog(spec, 4);
  ASSERT_EQ(one.rung_of_replica.size(), 150u);
  EXPECT_TRUE(one == four);
  // The log must also be sensitive to the seed, or the comparison above
  // would prove nothing.
  spec.set_seed(spec.seed() + 1);
  EXPECT_FALSE(RunAndLog(spec, 4) == one);
}

INSTANTIATE_TEST_SUITE_P(Examples, DeterminismTest,
                         ::testing::Values("examples/harmonic-oscillator/job.yaml",
                                           "examples/harmonic-oscillator/hremd.yaml"));

}  // namespace
}  // namespace replex::testing
