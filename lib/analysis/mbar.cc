#include "lib/analysis/mbar.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "lib/exchange/symmetric_eigen.h"

namespace replex::analysis {
namespace {

// Converged when every state's weights sum to 1 within this (the relative
// gradient of MBAR's objective), or, as pymbar's adaptive solver stops, when
// an iteration changes no f_k by more than this relative to the largest.
// The weights carry rounding of about 1e-16 times the reduced potentials'
// spread after preconditioning, so the gradient alone may never get there.
constexpr double kTolerance = 1e-12;
constexpr int kMaxIterations = 500;
constexpr int kSelfConsistentFirst = 2;  // pymbar's min_sc_iter
// An overlap eigenvalue gap below this is a ladder split in two.
constexpr double kNoOverlapGap = 1e-10;

// What MBAR needs at one estimate of f, over states k and samples n.
struct Evaluation {
  // log sum_k N_k exp(f_k - u_kn), per sample.
  std::vector<double> log_denominator;
  std::vector<double> weight_sums;  // sum_n W_nk, per state; 1 at the solution
  double objective = 0;  // sum_n log_denominator_n - sum_k N_k f_k (convex)
};

class Solver {
 public:
  Solver(const std::vector<double>& u, const std::vector<double>& counts,
         int64_t samples)
      : u_(u),
        counts_(counts),
        states_(static_cast<int>(counts.size())),
        samples_(samples) {}

  Evaluation Evaluate(const std::vector<double>& f) const {
    Evaluation e;
    // Two passes over u in its row order: the largest exponent per sample,
    // then the sum, so nothing overflows.
    std::vector<double> largest(samples_,
                                -std::numeric_limits<double>::infinity());
    for (int k = 0; k < states_; ++k) {
      const double shift = std::log(counts_[k]) + f[k];
      const double* row = Row(k);
      for (int64_t n = 0; n < samples_; ++n) {
        largest[n] = std::max(largest[n], shift - row[n]);
      }
    }
    std::vector<double> sum(samples_, 0.0);
    for (int k = 0; k < states_; ++k) {
      const double shift = std::log(counts_[k]) + f[k];
      const double* row = Row(k);
      for (int64_t n = 0; n < samples_; ++n) {
        sum[n] += std::exp(shift - row[n] - largest[n]);
      }
    }
    e.log_denominator.resize(samples_);
    for (int64_t n = 0; n < samples_; ++n) {
      e.log_denominator[n] = largest[n] + std::log(sum[n]);
      e.objective += e.log_denominator[n];
    }
    e.weight_sums.assign(states_, 0.0);
    for (int k = 0; k < states_; ++k) {
      e.objective -= counts_[k] * f[k];
      const double* row = Row(k);
      double s = 0;
      for (int64_t n = 0; n < samples_; ++n) {
        s += std::exp(f[k] - row[n] - e.log_denominator[n]);
      }
      e.weight_sums[k] = s;
    }
    return e;
  }

  // W (states x samples): W[k][n] = exp(f_k - u_kn - log_denominator_n).
  std::vector<double> Weights(const std::vector<double>& f,
                              const Evaluation& e) const {
    std::vector<double> w(u_.size());
    for (int k = 0; k < states_; ++k) {
      const double* row = Row(k);
      double* out = &w[static_cast<size_t>(k) * samples_];
      for (int64_t n = 0; n < samples_; ++n) {
        out[n] = std::exp(f[k] - row[n] - e.log_denominator[n]);
      }
    }
    return w;
  }

  // M = W W^T (states x states): M_kj = sum_n W_nk W_nj. The K² N/2
  // products dominate MBAR on large ladders (256 rungs: 10^9 a Newton step);
  // four partial sums let the compiler keep four multiply-adds in flight
  // (one sum is one at a time: a strict floating-point reduction).
  std::vector<double> WeightProducts(const std::vector<double>& w) const {
    std::vector<double> m(static_cast<size_t>(states_) * states_);
    for (int k = 0; k < states_; ++k) {
      for (int j = k; j < states_; ++j) {
        const double* a = &w[static_cast<size_t>(k) * samples_];
        const double* b = &w[static_cast<size_t>(j) * samples_];
        double s[4] = {0, 0, 0, 0};
        int64_t n = 0;
        for (; n + 4 <= samples_; n += 4) {
          s[0] += a[n] * b[n];
          s[1] += a[n + 1] * b[n + 1];
          s[2] += a[n + 2] * b[n + 2];
          s[3] += a[n + 3] * b[n + 3];
        }
        for (; n < samples_; ++n) s[0] += a[n] * b[n];
        m[k * states_ + j] = m[j * states_ + k] = (s[0] + s[1]) + (s[2] + s[3]);
      }
    }
    return m;
  }

  int states() const { return states_; }
  double count(int k) const { return counts_[k]; }

 private:
  const double* Row(int k) const {
    return &u_[static_cast<size_t>(k) * samples_];
  }
  const std::vector<double>& u_;
  const std::vector<double>& counts_;
  const int states_;
  const int64_t samples_;
};

double GradientNorm(const Evaluation& e) {
  double worst = 0;
  for (double s : e.weight_sums) worst = std::max(worst, std::abs(s - 1));
  return worst;
}

// Solves the symmetric positive definite system a x = b (n x n, row-major)
// by Cholesky; false if a is not positive definite.
bool SolvePositiveDefinite(std::vector<double> a, std::vector<double>& b,
                           int n) {
  for (int j = 0; j < n; ++j) {
    double d = a[j * n + j];
    for (int k = 0; k < j; ++k) d -= a[j * n + k] * a[j * n + k];
    if (!(d > 0)) return false;
    d = std::sqrt(d);
    a[j * n + j] = d;
    for (int i = j + 1; i < n; ++i) {
      double s = a[i * n + j];
      for (int k = 0; k < j; ++k) s -= a[i * n + k] * a[j * n + k];
      a[i * n + j] = s / d;
    }
  }
  for (int i = 0; i < n; ++i) {  // L y = b
    for (int k = 0; k < i; ++k) b[i] -= a[i * n + k] * b[k];
    b[i] /= a[i * n + i];
  }
  for (int i = n - 1; i >= 0; --i) {  // L^T x = y
    for (int k = i + 1; k < n; ++k) b[i] -= a[k * n + i] * b[k];
    b[i] /= a[i * n + i];
  }
  return true;
}

// One Newton step on f_1..f_{K-1} (f_0 fixed: the objective is flat along
// adding a constant to every f). Hessian: diag(N_k S_k) - N_k N_j M_kj.
bool NewtonStep(const Solver& solver, const std::vector<double>& f,
                const Evaluation& e, std::vector<double>& step) {
  const int k_states = solver.states();
  const int n = k_states - 1;
  const std::vector<double> m = solver.WeightProducts(solver.Weights(f, e));
  std::vector<double> hessian(static_cast<size_t>(n) * n);
  step.assign(k_states, 0.0);
  std::vector<double> rhs(n);
  for (int i = 0; i < n; ++i) {
    const int k = i + 1;
    rhs[i] = -solver.count(k) * (e.weight_sums[k] - 1);
    for (int j = 0; j < n; ++j) {
      const int l = j + 1;
      hessian[i * n + j] =
          -solver.count(k) * solver.count(l) * m[k * k_states + l];
    }
    hessian[i * n + i] += solver.count(k) * e.weight_sums[k];
  }
  if (!SolvePositiveDefinite(std::move(hessian), rhs, n)) return false;
  for (int i = 0; i < n; ++i) step[i + 1] = rhs[i];
  return true;
}

}  // namespace

double MbarResult::Error(int i, int j) const {
  const double variance =
      theta[i * states + i] + theta[j * states + j] - 2 * theta[i * states + j];
  return std::sqrt(std::max(0.0, variance));
}

absl::StatusOr<MbarResult> SolveMbar(
    const std::vector<double>& u_kn,
    const std::vector<int64_t>& samples_per_state) {
  const int k_states = static_cast<int>(samples_per_state.size());
  if (k_states < 1) {
    return absl::InvalidArgumentError("MBAR needs at least one state");
  }
  int64_t samples = 0;
  std::vector<double> counts(k_states);
  for (int k = 0; k < k_states; ++k) {
    if (samples_per_state[k] < 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "MBAR: state ", k, " has no samples; every state needs some"));
    }
    samples += samples_per_state[k];
    counts[k] = static_cast<double>(samples_per_state[k]);
  }
  if (u_kn.size() != static_cast<size_t>(samples) * k_states) {
    return absl::InvalidArgumentError(absl::StrCat(
        "MBAR: u_kn has ", u_kn.size(),
        " values, not states x samples = ", k_states, " x ", samples));
  }
  for (size_t i = 0; i < u_kn.size(); ++i) {
    if (!std::isfinite(u_kn[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("MBAR: u_kn holds a non-finite value (sample ",
                       i % samples, " at state ", i / samples, ")"));
    }
  }
  // Each sample's smallest reduced potential subtracted (pymbar's
  // precondition_u_kn): the estimates are unchanged, and the exponents stay
  // small for systems whose u are 10^5 k_B T.
  std::vector<double> u = u_kn;
  for (int64_t n = 0; n < samples; ++n) {
    double least = std::numeric_limits<double>::infinity();
    for (int k = 0; k < k_states; ++k) {
      least = std::min(least, u[static_cast<size_t>(k) * samples + n]);
    }
    for (int k = 0; k < k_states; ++k) {
      u[static_cast<size_t>(k) * samples + n] -= least;
    }
  }
  const Solver solver(u, counts, samples);
  std::vector<double> f(k_states, 0.0);  // pymbar's initialize='zeros'
  Evaluation e = solver.Evaluate(f);
  int iteration = 0;
  bool settled = false;  // the last iteration moved no f_k measurably
  for (; iteration < kMaxIterations && !settled && GradientNorm(e) > kTolerance;
       ++iteration) {
    std::vector<double> next = f;
    std::vector<double> step;
    bool improved = false;
    // Newton where it lowers the objective, else the self-consistent update
    // f_k <- f_k - log S_k, which always makes progress (slowly).
    if (iteration >= kSelfConsistentFirst && NewtonStep(solver, f, e, step)) {
      for (double scale = 1; scale > 1e-3 && !improved; scale /= 2) {
        for (int k = 0; k < k_states; ++k) next[k] = f[k] + scale * step[k];
        Evaluation candidate = solver.Evaluate(next);
        if (candidate.objective <= e.objective ||
            GradientNorm(candidate) < GradientNorm(e)) {
          e = std::move(candidate);
          improved = true;
        }
      }
    }
    if (!improved) {
      for (int k = 0; k < k_states; ++k) {
        next[k] = f[k] - std::log(e.weight_sums[k]);
      }
      for (int k = k_states - 1; k >= 0; --k) next[k] -= next[0];
      e = solver.Evaluate(next);
    }
    double change = 0, largest = 0;
    for (int k = 0; k < k_states; ++k) {
      change = std::max(change, std::abs(next[k] - f[k]));
      largest = std::max(largest, std::abs(next[k]));
    }
    settled = iteration >= kSelfConsistentFirst &&
              change <= kTolerance * std::max(1.0, largest);
    f = std::move(next);
  }
  if (!settled && GradientNorm(e) > kTolerance) {
    int worst = 0;
    for (int k = 1; k < k_states; ++k) {
      if (std::abs(e.weight_sums[k] - 1) > std::abs(e.weight_sums[worst] - 1)) {
        worst = k;
      }
    }
    return absl::FailedPreconditionError(absl::StrCat(
        "MBAR did not converge in ", kMaxIterations, " iterations (state ",
        worst, "'s weights sum to ", e.weight_sums[worst],
        "); poorly overlapping states converge slowly: add rungs between "
        "them or run longer"));
  }
  MbarResult result;
  result.states = k_states;
  result.iterations = iteration;
  result.f = f;
  for (double& x : result.f) x -= f[0];

  // Covariance by pymbar's "svd-ew": with W^T W = V S^2 V^T,
  // Theta = V S (I - S V^T N V S)^+ S V^T (Shirts & Chodera, appendix D).
  const std::vector<double> m = solver.WeightProducts(solver.Weights(f, e));
  const int n = k_states;
  // (The weights are those of the preconditioned u: the same weights.)
  const exchange::EigenSystem wtw = exchange::SymmetricEigenSystem(m, n);
  if (wtw.values.empty() || std::isnan(wtw.values[0])) {
    return absl::InternalError("MBAR: the eigen-decomposition of W'W failed");
  }
  std::vector<double> sigma(n);
  for (int a = 0; a < n; ++a)
    sigma[a] = std::sqrt(std::max(0.0, wtw.values[a]));
  auto v = [&wtw, n](int row, int col) { return wtw.vectors[row * n + col]; };
  std::vector<double> inner(static_cast<size_t>(n) * n);
  for (int a = 0; a < n; ++a) {
    for (int b = 0; b < n; ++b) {
      double s = 0;
      for (int k = 0; k < n; ++k) s += v(k, a) * counts[k] * v(k, b);
      inner[a * n + b] = (a == b ? 1.0 : 0.0) - sigma[a] * s * sigma[b];
    }
  }
  // Pseudo-inverse as numpy's pinv: singular values below 1e-10 of the
  // largest are dropped (the inner matrix is singular by construction).
  const exchange::EigenSystem inner_eigen =
      exchange::SymmetricEigenSystem(inner, n);
  if (inner_eigen.values.empty() || std::isnan(inner_eigen.values[0])) {
    return absl::InternalError("MBAR: the covariance's pseudo-inverse failed");
  }
  double largest = 0;
  for (double x : inner_eigen.values) largest = std::max(largest, std::abs(x));
  std::vector<double> pinv(static_cast<size_t>(n) * n, 0.0);
  for (int c = 0; c < n; ++c) {
    const double lambda = inner_eigen.values[c];
    if (std::abs(lambda) <= 1e-10 * largest) continue;
    for (int a = 0; a < n; ++a) {
      for (int b = 0; b < n; ++b) {
        pinv[a * n + b] += inner_eigen.vectors[a * n + c] *
                           inner_eigen.vectors[b * n + c] / lambda;
      }
    }
  }
  // Theta = (V S) pinv (V S)^T.
  std::vector<double> vs(static_cast<size_t>(n) * n);
  for (int k = 0; k < n; ++k) {
    for (int a = 0; a < n; ++a) vs[k * n + a] = v(k, a) * sigma[a];
  }
  std::vector<double> vs_pinv(static_cast<size_t>(n) * n, 0.0);
  for (int k = 0; k < n; ++k) {
    for (int c = 0; c < n; ++c) {
      const double x = vs[k * n + c];
      for (int b = 0; b < n; ++b) vs_pinv[k * n + b] += x * pinv[c * n + b];
    }
  }
  result.theta.assign(static_cast<size_t>(n) * n, 0.0);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) {
      double s = 0;
      for (int b = 0; b < n; ++b) s += vs_pinv[i * n + b] * vs[j * n + b];
      result.theta[i * n + j] = s;
    }
  }

  // Overlap O = M diag(N); its eigenvalues are those of the symmetric
  // N^1/2 M N^1/2.
  result.overlap.resize(static_cast<size_t>(n) * n);
  std::vector<double> symmetric(static_cast<size_t>(n) * n);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) {
      result.overlap[i * n + j] = counts[j] * m[i * n + j];
      symmetric[i * n + j] = std::sqrt(counts[i] * counts[j]) * m[i * n + j];
    }
  }
  const std::vector<double> overlap_values =
      exchange::SymmetricEigenvalues(std::move(symmetric), n);
  result.overlap_gap = n > 1 ? 1 - overlap_values[1] : 1;
  // Groups of states that share no samples satisfy the equations for any
  // offset between the groups (and the pseudo-inverse hides it): the second
  // eigenvalue is then 1.
  if (result.overlap_gap < kNoOverlapGap) {
    std::string pairs;
    for (int k = 0; k + 1 < n; ++k) {
      if (result.overlap[k * n + k + 1] < kNoOverlapGap) {
        absl::StrAppend(&pairs, pairs.empty() ? "" : ", ", k, "-", k + 1);
      }
    }
    return absl::FailedPreconditionError(absl::StrCat(
        "MBAR: the states split into groups that share no overlap",
        pairs.empty() ? "" : absl::StrCat(" (between states ", pairs, ")"),
        ", so their free energy differences are undetermined; add rungs "
        "between them or run longer"));
  }
  return result;
}

}  // namespace replex::analysis
