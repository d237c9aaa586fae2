// Eigenvalues of a real symmetric matrix, for the spectral mixing statistics
// (the second eigenvalue of the transition matrix) without an external
// linear-algebra library.
#pragma once

#include <vector>

namespace replex::exchange {

// Eigenvalues of the symmetric n x n matrix `matrix` (row-major; only
// symmetric input is meaningful), largest first. Householder reduction to
// tridiagonal form, then the implicit QL algorithm with Wilkinson-type shifts;
// O(n^3), about a second for n = 1000. All NaN if QL fails to converge or the
// input holds non-finite values. Thread-compatible (no shared state).
std::vector<double> SymmetricEigenvalues(std::vector<double> matrix, int n);

// Eigenvalues of the symmetric tridiagonal matrix with `diagonal` (n) and
// `off_diagonal` (n - 1: entry (i, i + 1)), largest first: the QL step alone,
// O(n^2), so milliseconds where the dense form takes minutes (n = 4096).
// All NaN on non-finite input or no convergence; empty on a size mismatch.
std::vector<double> SymmetricTridiagonalEigenvalues(
    std::vector<double> diagonal, const std::vector<double>& off_diagonal);

// Eigenvalues and eigenvectors of a symmetric n x n matrix, for MBAR's
// covariance and pseudo-inverse (lib/analysis), where n is at most a few
// hundred. values[i] (largest first) belongs to the eigenvector in column i
// of `vectors` (row-major n x n, orthonormal).
struct EigenSystem {
  std::vector<double> values;
  std::vector<double> vectors;
};

// The cyclic Jacobi method: the QL path above keeps no vectors, and Jacobi
// resolves small eigenvalues to high relative accuracy, which a
// pseudo-inverse's cutoff depends on. O(n^3) per sweep, ~10 sweeps; about
// a second at n = 256 (the Hilbert matrix, on one core). Empty on a size mismatch; all NaN on non-finite input or
// if it fails to converge.
EigenSystem SymmetricEigenSystem(std::vector<double> matrix, int n);

}  // namespace replex::exchange
