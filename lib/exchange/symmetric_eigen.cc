#include "lib/exchange/symmetric_eigen.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <utility>

namespace replex::exchange {
namespace {

// Householder tridiagonalisation (the eigenvalue-only part of EISPACK tred2,
// as in Numerical Recipes), reducing rows from the bottom. Both triangles are
// kept up to date so that every inner loop walks a row contiguously, which
// matters more than the doubled update flops at n ~ 1000. On return d holds
// the diagonal and e[i] the subdiagonal element (i, i - 1), e[0] = 0.
void Tridiagonalize(std::vector<double>& a, int n, std::vector<double>& d,
                    std::vector<double>& e) {
  auto at = [&a, n](int row, int col) -> double& {
    return a[static_cast<size_t>(row) * n + col];
  };
  std::vector<double> u(n), q(n);
  for (int i = n - 1; i >= 1; --i) {
    const int l = i - 1;  // the reflection acts on indices 0..l
    double scale = 0;
    for (int k = 0; k <= l; ++k) scale += std::abs(at(i, k));
    if (l == 0 || scale == 0) {  // already tridiagonal in this row
      e[i] = at(i, l);
      continue;
    }
    // Scaling guards the sum of squares against overflow and underflow.
    double h = 0;
    for (int k = 0; k <= l; ++k) {
      u[k] = at(i, k) / scale;
      h += u[k] * u[k];
    }
    const double f = u[l];
    const double g = f >= 0 ? -std::sqrt(h) : std::sqrt(h);
    e[i] = scale * g;
    h -= f * g;  // h = |u|^2 / 2, so the reflector is I - u u^T / h
    u[l] = f - g;
    // p = A u / h, K = u^T p / 2h, q = p - K u; A <- A - u q^T - q u^T.
    double k_numerator = 0;
    for (int j = 0; j <= l; ++j) {
      const double* row = &at(j, 0);
      double sum = 0;
      for (int k = 0; k <= l; ++k) sum += row[k] * u[k];
      q[j] = sum / h;
      k_numerator += u[j] * q[j];
    }
    const double big_k = k_numerator / (2 * h);
    for (int j = 0; j <= l; ++j) q[j] -= big_k * u[j];
    for (int j = 0; j <= l; ++j) {
      double* row = &at(j, 0);
      const double u_j = u[j], q_j = q[j];
      for (int k = 0; k <= l; ++k) row[k] -= u_j * q[k] + q_j * u[k];
    }
  }
  e[0] = 0;
  for (int i = 0; i < n; ++i) d[i] = at(i, i);
}

// sqrt(a^2 + b^2). std::hypot guards against overflow and underflow at
// several times the cost, and the QL sweep below is O(n^2) calls of it (10%
// of a 1024-rung coordinator's CPU); only extreme magnitudes take that path.
double Hypot(double a, double b) {
  const double m = std::max(std::abs(a), std::abs(b));
  if (m > 1e150 || (m < 1e-150 && m > 0)) return std::hypot(a, b);
  return std::sqrt(a * a + b * b);
}

// Implicit QL with shifts on a symmetric tridiagonal matrix (NR's tqli
// without eigenvectors). d: diagonal, overwritten by the eigenvalues; e:
// subdiagonal as Tridiagonalize leaves it. False if it fails to converge.
bool TridiagonalQl(std::vector<double>& d, std::vector<double>& e) {
  const int n = static_cast<int>(d.size());
  constexpr double kEps = std::numeric_limits<double>::epsilon();
  constexpr int kMaxIterations = 60;  // per eigenvalue; ~2 is typical
  for (int i = 1; i < n; ++i) e[i - 1] = e[i];
  if (n > 0) e[n - 1] = 0;
  for (int l = 0; l < n; ++l) {
    int iterations = 0;
    int m;
    do {
      // Find a negligible subdiagonal element to split the matrix at.
      for (m = l; m < n - 1; ++m) {
        const double dd = std::abs(d[m]) + std::abs(d[m + 1]);
        if (std::abs(e[m]) <= kEps * dd) break;
      }
      if (m == l) break;
      if (++iterations > kMaxIterations) return false;
      double g = (d[l + 1] - d[l]) / (2 * e[l]);
      double r = Hypot(g, 1.0);
      g = d[m] - d[l] + e[l] / (g + std::copysign(r, g));
      double s = 1, c = 1, p = 0;
      int i;
      for (i = m - 1; i >= l; --i) {
        const double f = s * e[i];
        const double b = c * e[i];
        r = Hypot(f, g);
        e[i + 1] = r;
        if (r == 0) {  // underflow: deflate and restart the sweep
          d[i + 1] -= p;
          e[m] = 0;
          break;
        }
        s = f / r;
        c = g / r;
        g = d[i + 1] - p;
        r = (d[i] - g) * s + 2 * c * b;
        p = s * r;
        d[i + 1] = g + p;
        g = c * r - b;
      }
      if (r == 0 && i >= l) continue;
      d[l] -= p;
      e[l] = g;
      e[m] = 0;
    } while (m != l);
  }
  return true;
}

bool AllFinite(const std::vector<double>& values) {
  return std::all_of(values.begin(), values.end(),
                     [](double x) { return std::isfinite(x); });
}

// QL on (d, e) as Tridiagonalize leaves them, then sorted largest first.
std::vector<double> SortedQlEigenvalues(std::vector<double> d,
                                        std::vector<double> e) {
  if (!TridiagonalQl(d, e)) {
    return std::vector<double>(d.size(),
                               std::numeric_limits<double>::quiet_NaN());
  }
  std::sort(d.begin(), d.end(), std::greater<double>());
  return d;
}

}  // namespace

std::vector<double> SymmetricEigenvalues(std::vector<double> matrix, int n) {
  if (n <= 0 || matrix.size() != static_cast<size_t>(n) * n) return {};
  if (!AllFinite(matrix)) {
    return std::vector<double>(n, std::numeric_limits<double>::quiet_NaN());
  }
  std::vector<double> d(n), e(n);
  Tridiagonalize(matrix, n, d, e);
  return SortedQlEigenvalues(std::move(d), std::move(e));
}

std::vector<double> SymmetricTridiagonalEigenvalues(
    std::vector<double> diagonal, const std::vector<double>& off_diagonal) {
  const size_t n = diagonal.size();
  if (n == 0 || off_diagonal.size() != n - 1) return {};
  if (!AllFinite(diagonal) || !AllFinite(off_diagonal)) {
    return std::vector<double>(n, std::numeric_limits<double>::quiet_NaN());
  }
  // Tridiagonalize's layout: e[i] holds entry (i, i - 1); e[0] is unused.
  std::vector<double> e(n, 0.0);
  std::copy(off_diagonal.begin(), off_diagonal.end(), e.begin() + 1);
  return SortedQlEigenvalues(std::move(diagonal), std::move(e));
}

EigenSystem SymmetricEigenSystem(std::vector<double> matrix, int n) {
  if (n <= 0 || matrix.size() != static_cast<size_t>(n) * n) return {};
  const size_t size = static_cast<size_t>(n) * n;
  if (!AllFinite(matrix)) {
    return {
        std::vector<double>(n, std::numeric_limits<double>::quiet_NaN()),
        std::vector<double>(size, std::numeric_limits<double>::quiet_NaN())};
  }
  auto a = [&matrix, n](int row, int col) -> double& {
    return matrix[static_cast<size_t>(row) * n + col];
  };
  std::vector<double> v(size, 0.0);
  for (int i = 0; i < n; ++i) v[static_cast<size_t>(i) * n + i] = 1;
  constexpr int kMaxSweeps = 100;  // quadratic convergence: ~10 are typical
  bool converged = false;
  for (int sweep = 0; sweep < kMaxSweeps && !converged; ++sweep) {
    double off = 0, diagonal = 0;
    for (int i = 0; i < n; ++i) {
      diagonal += a(i, i) * a(i, i);
      for (int j = i + 1; j < n; ++j) off += a(i, j) * a(i, j);
    }
    // Rounding leaves off-diagonal entries of about epsilon times the
    // diagonal's, n^2 of them.
    constexpr double kEps = std::numeric_limits<double>::epsilon();
    converged = off <= (kEps * n) * (kEps * n) * diagonal;
    if (converged) break;
    for (int p = 0; p < n - 1; ++p) {
      for (int q = p + 1; q < n; ++q) {
        const double apq = a(p, q);
        if (apq == 0) continue;
        // The rotation that zeroes (p, q) (Golub & Van Loan, 8.5.2).
        const double theta = (a(q, q) - a(p, p)) / (2 * apq);
        const double t = std::copysign(1.0, theta) /
                         (std::abs(theta) + std::sqrt(theta * theta + 1));
        const double c = 1 / std::sqrt(t * t + 1), s = t * c;
        for (int k = 0; k < n; ++k) {  // columns p and q
          const double akp = a(k, p), akq = a(k, q);
          a(k, p) = c * akp - s * akq;
          a(k, q) = s * akp + c * akq;
        }
        for (int k = 0; k < n; ++k) {  // rows p and q
          const double apk = a(p, k), aqk = a(q, k);
          a(p, k) = c * apk - s * aqk;
          a(q, k) = s * apk + c * aqk;
        }
        for (int k = 0; k < n; ++k) {
          double* row = &v[static_cast<size_t>(k) * n];
          const double vkp = row[p], vkq = row[q];
          row[p] = c * vkp - s * vkq;
          row[q] = s * vkp + c * vkq;
        }
        a(p, q) = a(q, p) = 0;  // what the rotation was for, without rounding
      }
    }
  }
  if (!converged) {
    return {
        std::vector<double>(n, std::numeric_limits<double>::quiet_NaN()),
        std::vector<double>(size, std::numeric_limits<double>::quiet_NaN())};
  }
  std::vector<int> order(n);
  for (int i = 0; i < n; ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](int x, int y) { return a(x, x) > a(y, y); });
  EigenSystem result{std::vector<double>(n), std::vector<double>(size)};
  for (int i = 0; i < n; ++i) {
    result.values[i] = a(order[i], order[i]);
    for (int k = 0; k < n; ++k) {
      result.vectors[static_cast<size_t>(k) * n + i] =
          v[static_cast<size_t>(k) * n + order[i]];
    }
  }
  return result;
}

}  // namespace replex::exchange
