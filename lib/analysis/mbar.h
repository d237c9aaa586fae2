// The multistate Bennett acceptance ratio (MBAR; Shirts & Chodera, JCP 129:
// 124105, 2008): free energies of every rung of a ladder from the reduced
// potentials of all samples at all rungs, with their asymptotic standard
// errors and the overlap matrix. The estimator, the error model ("svd-ew")
// and the overlap are pymbar's, so replex's numbers equal a notebook's on the
// same u_kln (tests/results_test.cc compares them).
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"

namespace replex::analysis {

struct MbarResult {
  int states = 0;
  std::vector<double> f;  // f_k - f_0, dimensionless (reduced)
  // The asymptotic covariance of the f_k (states x states, row-major).
  std::vector<double> theta;
  // overlap[i * states + j] = N_j sum_n W_ni W_nj: the chance that a sample
  // drawn from state i is attributed to state j. Row-stochastic.
  std::vector<double> overlap;
  // 1 minus the overlap matrix's second largest eigenvalue: near 0 when the
  // states split into groups that do not overlap (pymbar's "scalar").
  double overlap_gap = 0;
  int iterations = 0;

  // The standard error of f_j - f_i.
  double Error(int i, int j) const;
};

// MBAR on `u_kn` (states x samples, row-major): u_kn[k * samples + n] is the
// reduced potential of sample n evaluated at state k, and the first
// samples_per_state[0] samples were drawn from state 0, the next from state
// 1, and so on. INVALID_ARGUMENT for inconsistent sizes or a non-finite
// value; FAILED_PRECONDITION when the states split into groups with no
// overlap between them (naming the neighbour pairs), or the equations do not
// converge. Thread-compatible; O(samples x states^2)
// a Newton iteration, about ten of them.
absl::StatusOr<MbarResult> SolveMbar(
    const std::vector<double>& u_kn,
    const std::vector<int64_t>& samples_per_state);

}  // namespace replex::analysis
