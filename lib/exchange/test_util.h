// Helpers shared by the exchange unit tests: ladders, reduced-potential
// matrices and the statistical acceptance criteria, so that every statistical
// tolerance is derived the same way and stated once.
#pragma once

#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "lib/exchange/ladder.h"
#include "lib/exchange/scheme.h"

namespace replex::exchange::test_util {

// Per-test false-alarm probability of every chi-square test in these tests.
// The seeds are fixed, so a test is deterministic; alpha says how unlikely a
// failure would be for a correct implementation with some other seed.
inline constexpr double kChiSquareAlpha = 1e-4;
// Binomial frequencies must lie within this many standard deviations of the
// exact probability (two-sided false alarm 5.7e-7 under the normal limit).
inline constexpr double kBinomialSigmas = 5;

// z with P(Z > z) = alpha for a standard normal Z, by bisection on erfc.
inline double NormalUpperQuantile(double alpha) {
  double lo = 0, hi = 40;
  for (int i = 0; i < 200; ++i) {
    const double mid = (lo + hi) / 2;
    (0.5 * std::erfc(mid / std::sqrt(2.0)) > alpha ? lo : hi) = mid;
  }
  return lo;
}

// Upper-alpha critical value of the chi-square distribution, by the
// Wilson-Hilferty cube-root normal approximation. It errs on the high side
// in the far tail: at alpha = 1e-4 the exact tail beyond it is 0.57 alpha
// (dof 1) to 0.92 alpha (dof 23), so the false-alarm rate stays below alpha.
inline double ChiSquareCriticalValue(int dof, double alpha) {
  const double c = 2.0 / (9.0 * dof);
  const double root = 1 - c + NormalUpperQuantile(alpha) * std::sqrt(c);
  return dof * root * root * root;
}

// Pearson's test of `observed` counts against cell probabilities `expected`
// (summing to 1; cells with probability 0 must be empty), at kChiSquareAlpha
// with (non-empty cells - 1) degrees of freedom.
inline ::testing::AssertionResult ChiSquareFits(
    const std::vector<int64_t>& observed, const std::vector<double>& expected) {
  if (observed.size() != expected.size()) {
    return ::testing::AssertionFailure() << "cell counts differ";
  }
  double total = 0;
  for (int64_t count : observed) total += static_cast<double>(count);
  double statistic = 0;
  int cells = 0;
  for (size_t c = 0; c < observed.size(); ++c) {
    const double mean = total * expected[c];
    if (expected[c] == 0) {
      if (observed[c] != 0) {
        return ::testing::AssertionFailure()
               << "cell " << c << " has probability 0 but " << observed[c]
               << " counts";
      }
      continue;
    }
    ++cells;
    const double diff = static_cast<double>(observed[c]) - mean;
    statistic += diff * diff / mean;
  }
  const double critical = ChiSquareCriticalValue(cells - 1, kChiSquareAlpha);
  if (statistic <= critical) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "chi-square " << statistic << " > " << critical << " (dof "
         << cells - 1 << ", alpha " << kChiSquareAlpha << ")";
}

// `successes` out of `trials` Bernoulli(p) trials lies within kBinomialSigmas
// standard deviations of p (exact agreement where p is 0 or 1).
inline ::testing::AssertionResult BinomialFits(int64_t successes,
                                               int64_t trials, double p) {
  const double frequency = static_cast<double>(successes) / trials;
  const double sigma = std::sqrt(p * (1 - p) / trials);
  if (std::abs(frequency - p) <= kBinomialSigmas * sigma) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << successes << "/" << trials << " = " << frequency << ", expected "
         << p << " +- " << kBinomialSigmas << " sigma (sigma " << sigma << ")";
}

// A temperature-only ladder; the temperatures must be valid.
inline Ladder TemperatureLadder(const std::vector<double>& temperatures_k) {
  std::vector<Rung> rungs;
  for (double t : temperatures_k) rungs.push_back(Rung{t, {}});
  return *Ladder::Create({}, std::move(rungs));
}

// A Hamiltonian ladder of n rungs at 300 K with lambda = 0, 1, ..., n - 1.
inline Ladder LambdaLadder(int n) {
  std::vector<Rung> rungs;
  for (int k = 0; k < n; ++k) {
    rungs.push_back(Rung{300.0, {static_cast<double>(k)}});
  }
  return *Ladder::Create({"lambda"}, std::move(rungs));
}

// A grid of n_t temperatures (300 K * 1.1^t) by n_l lambdas (0, 1, ...):
// rung n_l * t + l.
inline Ladder GridLadder(int n_t, int n_l) {
  std::vector<Rung> rungs;
  for (int t = 0; t < n_t; ++t) {
    for (int l = 0; l < n_l; ++l) {
      rungs.push_back(Rung{300.0 * std::pow(1.1, t), {static_cast<double>(l)}});
    }
  }
  return *Ladder::Create({"lambda"}, std::move(rungs), {n_t, n_l});
}

// General-form reduced potentials from u[replica][rung].
inline ReducedPotentials MatrixPotentials(
    const std::vector<std::vector<double>>& u) {
  ReducedPotentials reduced(static_cast<int>(u.size()));
  for (size_t i = 0; i < u.size(); ++i) {
    for (size_t k = 0; k < u[i].size(); ++k) {
      reduced.Set(static_cast<int>(i), static_cast<int>(k), u[i][k]);
    }
  }
  return reduced;
}

}  // namespace replex::exchange::test_util
