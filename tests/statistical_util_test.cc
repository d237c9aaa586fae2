// Checks the test statistics themselves: exact values, and that the KS test
// both accepts correct samples and rejects slightly wrong ones.
#include "tests/statistical_util.h"

#include <cmath>
#include <random>

#include "gtest/gtest.h"

namespace replex::testing {
namespace {

TEST(GammaCdfTest, MatchesClosedFormsForIntegerShapes) {
  for (double x : {0.1, 1.0, 3.0, 6.0, 12.0, 40.0}) {
    EXPECT_NEAR(GammaCdf(1, 1, x), 1 - std::exp(-x), 1e-13) << x;
    // P(6, x) = 1 - exp(-x) sum_{j<6} x^j / j!
    double sum = 0, term = 1;
    for (int j = 0; j < 6; ++j) {
      sum += term;
      term *= x / (j + 1);
    }
    EXPECT_NEAR(GammaCdf(6, 2, 2 * x), 1 - std::exp(-x) * sum, 1e-12) << x;
  }
  EXPECT_EQ(GammaCdf(6, 1, 0), 0);
}

std::vector<double> GammaSamples(double shape, double scale, int n,
                                 uint64_t seed) {
  std::mt19937_64 generator(seed);
  std::gamma_distribution<double> gamma(shape, scale);
  std::vector<double> x(n);
  for (double& v : x) v = gamma(generator);
  return x;
}

TEST(KsTest, AcceptsExactSamplesAndRejectsAFivePercentScaleError) {
  const int n = 4000;
  const std::vector<double> x = GammaSamples(6, 2.5, n, 7);
  auto exact = [](double v) { return GammaCdf(6, 2.5, v); };
  auto wrong = [](double v) { return GammaCdf(6, 2.5 * 1.05, v); };
  EXPECT_LT(KsStatistic(x, exact), KsCriticalValue(n, 1e-3));
  EXPECT_GT(KsStatistic(x, wrong), KsCriticalValue(n, 1e-3));
}

TEST(StatisticalInefficiencyTest, RecoversTheAr1Value) {
  // AR(1) with coefficient phi has g = (1 + phi) / (1 - phi) = 19.
  const double phi = 0.9;
  std::mt19937_64 generator(11);
  std::normal_distribution<double> normal;
  std::vector<double> x(200000);
  double v = 0;
  for (double& s : x) s = v = phi * v + normal(generator);
  // The estimator's relative error at N/g ~ 10^4 effective samples is a few
  // percent; 15% leaves room without accepting a wrong formula (g = 10 or 1).
  EXPECT_NEAR(StatisticalInefficiency(x), 19.0, 19.0 * 0.15);
  EXPECT_NEAR(StatisticalInefficiency(GammaSamples(1, 1, 20000, 3)), 1.0, 0.1);
}

TEST(HarmonicSwapAcceptanceTest, MatchesMonteCarlo) {
  const int dof = 12;
  const double beta_cold = 1 / (0.0083144626 * 300);
  const double beta_hot = 1 / (0.0083144626 * 380);
  std::mt19937_64 generator(5);
  std::gamma_distribution<double> gamma(dof / 2.0, 1.0);
  const int n = 1000000;
  double sum = 0, sum2 = 0;
  for (int i = 0; i < n; ++i) {
    const double u_cold = gamma(generator) / beta_cold;
    const double u_hot = gamma(generator) / beta_hot;
    const double p =
        std::min(1.0, std::exp(-(beta_cold - beta_hot) * (u_hot - u_cold)));
    sum += p;
    sum2 += p * p;
  }
  const double mean = sum / n;
  const double error = std::sqrt((sum2 / n - mean * mean) / n);
  // Independent samples: 5 standard errors.
  EXPECT_NEAR(HarmonicSwapAcceptance(dof, beta_cold, beta_hot), mean,
              5 * error);
  EXPECT_NEAR(HarmonicSwapAcceptance(dof, beta_cold, beta_cold), 1.0, 1e-9);
}

}  // namespace
}  // namespace replex::testing
