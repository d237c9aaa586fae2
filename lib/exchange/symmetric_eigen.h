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

}  // namespace replex::exchange
