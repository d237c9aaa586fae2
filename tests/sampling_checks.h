// Shared assertions for the sampling tests: load an example job, and compare
// a correlated time series with an exact distribution or value.
#pragma once

#include <algorithm>
#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "lib/spec/spec.h"
#include "tests/statistical_util.h"
#include "tests/test_paths.h"

namespace replex::testing {

// Significance of each KS test. A test body runs a few (one per rung), so the
// chance that a correct sampler fails one is below 1% per body; the seeds are
// fixed, so a run either passes or fails reproducibly.
inline constexpr double kKsAlpha = 1e-3;
// Mean checks allow this many (correlation-corrected) standard errors:
// two-sided p = 6e-5 per check for a correct sampler.
inline constexpr double kSigmas = 4.0;

inline v1::JobSpec LoadExample(const std::string& relative_path) {
  absl::StatusOr<v1::JobSpec> spec =
      spec::LoadYamlFile(SourcePath(relative_path));
  EXPECT_TRUE(spec.ok()) << spec.status();
  return spec.ok() ? *spec : v1::JobSpec();
}

// Drops the first 10% as equilibration (the examples start from one
// configuration), subsamples to roughly independent points, and runs a KS
// test against the CDF.
inline void ExpectDistributed(const std::vector<double>& series,
                              const std::function<double(double)>& cdf,
                              const std::string& label) {
  const std::vector<double> equilibrated(series.begin() + series.size() / 10,
                                         series.end());
  const double g = StatisticalInefficiency(equilibrated);
  const std::vector<double> independent = Subsample(equilibrated, g);
  // Fewer than 100 independent samples would make the test too weak to mean
  // anything; the job is then too short for its correlation time.
  ASSERT_GE(independent.size(), 100u)
      << label << ": only " << independent.size()
      << " independent samples (statistical inefficiency " << g << ")";
  const double d = KsStatistic(independent, cdf);
  const double critical = KsCriticalValue(independent.size(), kKsAlpha);
  std::cout << label << ": KS " << d << " < " << critical << "? ("
            << independent.size() << " samples, g = " << g << ")\n";
  EXPECT_LT(d, critical) << label << ": KS statistic " << d << " over "
                         << independent.size() << " samples (g = " << g
                         << ") exceeds the alpha = " << kKsAlpha
                         << " critical value " << critical;
}

// The series' mean (after 10% equilibration) is within kSigmas
// correlation-corrected standard errors of `expected`.
inline void ExpectMeanNear(const std::vector<double>& series, double expected,
                           const std::string& label) {
  const std::vector<double> equilibrated(series.begin() + series.size() / 10,
                                         series.end());
  const double mean = Mean(equilibrated);
  const double error = StandardErrorOfMean(equilibrated);
  std::cout << label << ": " << mean << " +- " << error << ", expected "
            << expected << "\n";
  EXPECT_NEAR(mean, expected, kSigmas * error)
      << label << ": mean " << mean << " +- " << error << " over "
      << equilibrated.size() << " samples, expected " << expected;
}

// An adaptive ladder's outcome: its first version's measured acceptance
// spread over more than `first_spread` (the test started from a poor
// ladder), and each pair's production acceptance (accepts / attempts, per
// pair) within `tolerance` of the pairs' mean.
inline void ExpectAcceptanceEqualised(
    const std::vector<double>& first_acceptance, double first_spread,
    const std::vector<int64_t>& attempts, const std::vector<int64_t>& accepts,
    double tolerance) {
  ASSERT_FALSE(first_acceptance.empty());
  EXPECT_GT(
      *std::max_element(first_acceptance.begin(), first_acceptance.end()) -
          *std::min_element(first_acceptance.begin(), first_acceptance.end()),
      first_spread);
  const size_t n = attempts.size();
  double mean = 0;
  for (size_t k = 0; k < n; ++k) mean += double(accepts[k]) / attempts[k] / n;
  for (size_t k = 0; k < n; ++k) {
    const double acceptance = double(accepts[k]) / attempts[k];
    std::cout << "production acceptance of pair " << k << ": " << acceptance
              << " (mean " << mean << ")\n";
    EXPECT_NEAR(acceptance, mean, tolerance) << "pair " << k;
  }
}

}  // namespace replex::testing
