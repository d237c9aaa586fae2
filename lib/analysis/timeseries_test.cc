#include "lib/analysis/timeseries.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"
#include "lib/exchange/rng.h"

namespace replex::analysis {
namespace {

// Standard normal deviates by Box-Muller from the seeded generator.
std::vector<double> Normals(int n, uint64_t seed) {
  exchange::Rng rng(seed, 0);
  std::vector<double> out(n);
  for (double& x : out) {
    const double u = 1 - rng.Uniform();  // (0, 1]
    x = std::sqrt(-2 * std::log(u)) * std::cos(2 * M_PI * rng.Uniform());
  }
  return out;
}

// x_t = phi x_{t-1} + sqrt(1 - phi^2) e_t: unit variance, C(t) = phi^t, so
// g = (1 + phi) / (1 - phi).
std::vector<double> Ar1(int n, double phi, uint64_t seed) {
  std::vector<double> x = Normals(n, seed);
  for (int t = 1; t < n; ++t) {
    x[t] = phi * x[t - 1] + std::sqrt(1 - phi * phi) * x[t];
  }
  return x;
}

// What the fast estimator converges to for C(t) = phi^t: C at lags 1, 2, 4,
// 7, ... each weighted by the gap after it (a left Riemann sum, so above the
// exact g for a decaying C: 10.5 rather than 9 at phi = 0.8).
double FastLimit(double phi) {
  double g = 1;
  for (int t = 1, increment = 1; t < 10000; t += increment++) {
    g += 2 * std::pow(phi, t) * increment;
  }
  return g;
}

// The estimator truncates at C's first zero, near lag M = 26 for phi = 0.8
// and N = 10^5 (where phi^t meets the noise N^-1/2); its relative standard
// deviation is about sqrt(2 (2M + 1) / N) = 3.3% (Sokal's bound), so 4 of
// them, 13%, is the tolerance. White noise has g = 1 up to the same noise.
TEST(TimeseriesTest, StatisticalInefficiencyOfKnownProcesses) {
  const std::vector<double> ar = Ar1(100000, 0.8, 1);
  const double exact = (1 + 0.8) / (1 - 0.8);
  EXPECT_NEAR(*StatisticalInefficiency(ar), exact, 0.13 * exact);
  EXPECT_NEAR(*StatisticalInefficiency(ar, /*fast=*/true), FastLimit(0.8),
              0.13 * FastLimit(0.8));
  EXPECT_NEAR(*StatisticalInefficiency(Normals(100000, 2)), 1.0, 0.05);
}

TEST(TimeseriesTest, StatisticalInefficiencyEdgeCases) {
  EXPECT_FALSE(StatisticalInefficiency(std::vector<double>{}).has_value());
  EXPECT_FALSE(StatisticalInefficiency(std::vector<double>{3}).has_value());
  EXPECT_FALSE(
      StatisticalInefficiency(std::vector<double>(50, 2.5)).has_value());
  // Alternating signs: C(1) = -1 would make g negative; it is at least 1.
  std::vector<double> alternating(100);
  for (int t = 0; t < 100; ++t) alternating[t] = t % 2 ? 1 : -1;
  EXPECT_EQ(*StatisticalInefficiency(alternating), 1.0);
}

// A decaying transient of 300 samples (40 standard deviations at the start,
// e^-1 of that by sample 60) on an AR(1) series: the detected start lies
// where the transient has fallen below the noise (4 standard deviations at
// t = 140, 0.3 at 300), and the (fast) g of what is left is the process's
// own, 3.44 for phi = 0.5, within 28% (4 standard deviations of 7%:
// sqrt(2 (2M + 1) / N) with M = 6, N = 5000).
TEST(TimeseriesTest, DetectEquilibrationFindsTheEndOfATransient) {
  std::vector<double> x = Ar1(5000, 0.5, 3);
  for (int t = 0; t < 300; ++t) x[t] += 40 * std::exp(-t / 60.0);
  for (int64_t stride : {1, 7}) {
    const Equilibration e = DetectEquilibration(x, stride);
    EXPECT_GE(e.start, 100) << stride;
    EXPECT_LE(e.start, 450) << stride;
    EXPECT_EQ(e.start % stride, 0);
    EXPECT_NEAR(e.inefficiency, FastLimit(0.5), 0.28 * FastLimit(0.5))
        << stride;
    // float32, as pymbar keeps it.
    EXPECT_NEAR(e.effective_samples, (5000 - e.start + 1) / e.inefficiency,
                1e-6 * e.effective_samples);
  }
  // Stationary from the start: nothing is thrown away beyond noise.
  EXPECT_LT(DetectEquilibration(Ar1(5000, 0.5, 4)).start, 250);
  const Equilibration constant = DetectEquilibration(std::vector<double>(9, 1));
  EXPECT_EQ(constant.start, 0);
  EXPECT_EQ(constant.inefficiency, 1);
}

TEST(TimeseriesTest, SubsampleIndicesRoundTiesToEvenAsPython) {
  // round(n * 1.5) for n = 0..6: 0, 2 (1.5), 3, 4 (4.5), 6, 8 (7.5), 9.
  EXPECT_EQ(SubsampleIndices(10, 1.5),
            (std::vector<int64_t>{0, 2, 3, 4, 6, 8, 9}));
  EXPECT_EQ(SubsampleIndices(4, 1.0), (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(SubsampleIndices(10, 4.0), (std::vector<int64_t>{0, 4, 8}));
  EXPECT_EQ(SubsampleIndices(3, 0.2), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_TRUE(SubsampleIndices(0, 2.0).empty());
}

}  // namespace
}  // namespace replex::analysis
