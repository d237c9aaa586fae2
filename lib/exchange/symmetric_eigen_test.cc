#include "lib/exchange/symmetric_eigen.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <vector>

#include "gtest/gtest.h"
#include "lib/exchange/rng.h"

namespace replex::exchange {
namespace {

// Householder reduction and QL are backward stable: computed eigenvalues are
// exact for a matrix within a few n * epsilon * ||A|| of the input, and the
// eigenvalues of a symmetric matrix move no more than the perturbation. The
// tolerance below is that bound with a generous constant.
double Tolerance(int n, double norm) {
  return 10 * n * std::numeric_limits<double>::epsilon() * norm;
}

void ExpectSpectrum(const std::vector<double>& matrix, int n,
                    std::vector<double> expected) {
  std::sort(expected.begin(), expected.end(), std::greater<double>());
  double norm = 0;
  for (double x : expected) norm = std::max(norm, std::abs(x));
  const std::vector<double> actual = SymmetricEigenvalues(matrix, n);
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t k = 0; k < expected.size(); ++k) {
    EXPECT_NEAR(actual[k], expected[k], Tolerance(n, norm)) << "k = " << k;
  }
}

TEST(SymmetricEigenTest, TwoByTwoClosedForm) {
  const double a = 3, b = -1.25, c = 0.5;
  const double mean = (a + c) / 2;
  const double radius = std::hypot((a - c) / 2, b);
  ExpectSpectrum({a, b, b, c}, 2, {mean + radius, mean - radius});
}

TEST(SymmetricEigenTest, SecondDifferenceMatrix) {
  // tridiag(-1, 2, -1) of size 3: 2 - sqrt(2), 2, 2 + sqrt(2).
  ExpectSpectrum({2, -1, 0, -1, 2, -1, 0, -1, 2}, 3,
                 {2 - std::sqrt(2.0), 2, 2 + std::sqrt(2.0)});
}

TEST(SymmetricEigenTest, TridiagonalToeplitz) {
  // tridiag(b, a, b) of size n: a + 2 b cos(k pi / (n + 1)), k = 1..n.
  constexpr int kN = 50;
  const double a = 1.5, b = -0.7;
  std::vector<double> matrix(kN * kN, 0.0), expected;
  for (int i = 0; i < kN; ++i) {
    matrix[i * kN + i] = a;
    if (i + 1 < kN) matrix[i * kN + i + 1] = matrix[(i + 1) * kN + i] = b;
    expected.push_back(a + 2 * b * std::cos((i + 1) * M_PI / (kN + 1)));
  }
  ExpectSpectrum(matrix, kN, expected);
  // The tridiagonal entry point gets the same spectrum from the diagonals.
  std::sort(expected.begin(), expected.end(), std::greater<double>());
  const std::vector<double> tridiagonal = SymmetricTridiagonalEigenvalues(
      std::vector<double>(kN, a), std::vector<double>(kN - 1, b));
  ASSERT_EQ(tridiagonal.size(), expected.size());
  for (int k = 0; k < kN; ++k) {
    EXPECT_NEAR(tridiagonal[k], expected[k], Tolerance(kN, 3)) << "k = " << k;
  }
}

TEST(SymmetricEigenTest, TridiagonalBadInput) {
  EXPECT_TRUE(SymmetricTridiagonalEigenvalues({}, {}).empty());
  EXPECT_TRUE(SymmetricTridiagonalEigenvalues({1, 2}, {}).empty());
  const std::vector<double> nan = SymmetricTridiagonalEigenvalues(
      {1, std::numeric_limits<double>::infinity()}, {0.5});
  ASSERT_EQ(nan.size(), 2u);
  EXPECT_TRUE(std::isnan(nan[0]) && std::isnan(nan[1]));
}

// Q diag(lambda) Q^T for Q a product of two Householder reflections with
// random directions: a dense matrix with exactly the spectrum lambda.
std::vector<double> DenseWithSpectrum(const std::vector<double>& lambda) {
  const int n = static_cast<int>(lambda.size());
  std::vector<double> a(n * n, 0.0);
  for (int i = 0; i < n; ++i) a[i * n + i] = lambda[i];
  Rng rng(17, 0);
  for (int reflection = 0; reflection < 2; ++reflection) {
    std::vector<double> v(n);
    double norm2 = 0;
    for (double& x : v) {
      x = rng.Uniform() - 0.5;
      norm2 += x * x;
    }
    // A <- H A H with H = I - 2 v v^T / |v|^2, applied as two rank-1 steps.
    for (int side = 0; side < 2; ++side) {
      std::vector<double> w(n, 0.0);  // w = A^T v
      for (int i = 0; i < n; ++i) {
        for (int j = 0; j < n; ++j) w[j] += v[i] * a[i * n + j];
      }
      for (int i = 0; i < n; ++i) {
        for (int j = 0; j < n; ++j) a[i * n + j] -= 2 * v[i] * w[j] / norm2;
      }
      // Transpose so the second pass applies H from the other side.
      for (int i = 0; i < n; ++i) {
        for (int j = i + 1; j < n; ++j) std::swap(a[i * n + j], a[j * n + i]);
      }
    }
    // Symmetrise away rounding so the input is exactly symmetric.
    for (int i = 0; i < n; ++i) {
      for (int j = i + 1; j < n; ++j) {
        a[i * n + j] = a[j * n + i] = (a[i * n + j] + a[j * n + i]) / 2;
      }
    }
  }
  return a;
}

TEST(SymmetricEigenTest, DenseMatrixWithRepeatedAndSpreadEigenvalues) {
  std::vector<double> lambda = {5, -3, 2, 2, 2, 0, 1e-9, -7.5, 1, 1};
  for (int k = 0; k < 30; ++k) lambda.push_back(std::sin(k * 1.3) * 4);
  ExpectSpectrum(DenseWithSpectrum(lambda), static_cast<int>(lambda.size()),
                 lambda);
}

TEST(SymmetricEigenTest, WidelyScaledSpectrum) {
  // Scaling inside the reduction keeps huge and tiny entries from
  // overflowing or vanishing in the sums of squares.
  for (double scale : {1e-150, 1e150}) {
    std::vector<double> lambda = {3, 1, -2, 0.5, -0.25, 4};
    for (double& x : lambda) x *= scale;
    ExpectSpectrum(DenseWithSpectrum(lambda), 6, lambda);
  }
}

TEST(SymmetricEigenTest, TrivialCases) {
  ExpectSpectrum({-4}, 1, {-4});
  ExpectSpectrum(std::vector<double>(16, 0.0), 4, {0, 0, 0, 0});
  ExpectSpectrum({1, 0, 0, 0, 3, 0, 0, 0, 2}, 3, {3, 2, 1});
  // Already tridiagonal with a zero off-diagonal: two blocks.
  ExpectSpectrum({1, 2, 0, 2, 1, 0, 0, 0, 5}, 3, {5, 3, -1});
}

TEST(SymmetricEigenTest, BadInput) {
  EXPECT_TRUE(SymmetricEigenvalues({1, 2, 3}, 2).empty());
  EXPECT_TRUE(SymmetricEigenvalues({}, 0).empty());
  const std::vector<double> nan_result = SymmetricEigenvalues(
      {1, std::numeric_limits<double>::infinity(), 0, 1}, 2);
  ASSERT_EQ(nan_result.size(), 2u);
  EXPECT_TRUE(std::isnan(nan_result[0]) && std::isnan(nan_result[1]));
}

// Jacobi returns vectors: A v_i = lambda_i v_i with orthonormal v_i, and
// eigenvalues many orders below the largest keep their relative accuracy
// (what MBAR's pseudo-inverse cutoff looks at).
TEST(SymmetricEigenTest, EigenSystemReconstructsTheMatrix) {
  const std::vector<double> lambda = {5, 1e-9, -2, 0.5, 3e-13, 1, -1e-6, 0};
  const int n = static_cast<int>(lambda.size());
  const std::vector<double> a = DenseWithSpectrum(lambda);
  const EigenSystem system = SymmetricEigenSystem(a, n);
  ASSERT_EQ(system.values.size(), lambda.size());
  std::vector<double> sorted = lambda;
  std::sort(sorted.begin(), sorted.end(), std::greater<double>());
  for (int i = 0; i < n; ++i) {
    EXPECT_NEAR(system.values[i], sorted[i], Tolerance(n, 5)) << i;
  }
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) {
      double dot = 0, av = 0;
      for (int k = 0; k < n; ++k) {
        dot += system.vectors[k * n + i] * system.vectors[k * n + j];
        av += a[i * n + k] * system.vectors[k * n + j];
      }
      EXPECT_NEAR(dot, i == j ? 1 : 0, Tolerance(n, 1)) << i << " " << j;
      EXPECT_NEAR(av, system.values[j] * system.vectors[i * n + j],
                  Tolerance(n, 5))
          << i << " " << j;
    }
  }
  // A diagonal matrix is already solved: its entries, exactly.
  const EigenSystem diagonal =
      SymmetricEigenSystem({2e-12, 0, 0, 0, 7, 0, 0, 0, -1}, 3);
  EXPECT_EQ(diagonal.values, (std::vector<double>{7, 2e-12, -1}));
  EXPECT_TRUE(SymmetricEigenSystem({1, 2, 3}, 2).values.empty());
  EXPECT_TRUE(std::isnan(
      SymmetricEigenSystem({1, std::nan(""), std::nan(""), 1}, 2).values[0]));
}

}  // namespace
}  // namespace replex::exchange
