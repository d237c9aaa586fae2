// Mixing statistics: pair acceptance, the empirical rung transition matrix
// and its spectrum, and round trips of replicas between the extreme rungs.
#include "lib/exchange/statistics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "lib/exchange/symmetric_eigen.h"

namespace replex::exchange {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr int kNoExtreme = -1, kLowest = 0, kHighest = 1;

// Row sums of C + C^T for the sparse count matrix C; the factor 1/2 of the
// symmetrisation cancels wherever rows are normalised.
std::vector<double> SymmetrisedRowSums(
    const absl::flat_hash_map<int64_t, int64_t>& counts, int n) {
  std::vector<double> sums(n, 0.0);
  for (const auto& [key, count] : counts) {
    sums[key / n] += static_cast<double>(count);
    sums[key % n] += static_cast<double>(count);
  }
  return sums;
}

// Entry (i, j) of C + C^T.
double SymmetrisedCount(const absl::flat_hash_map<int64_t, int64_t>& counts,
                        int n, int i, int j) {
  auto count = [&](int from, int to) -> double {
    auto it = counts.find(static_cast<int64_t>(from) * n + to);
    return it == counts.end() ? 0.0 : static_cast<double>(it->second);
  };
  return count(i, j) + count(j, i);
}

}  // namespace

Statistics::Statistics(int n_rungs, int n_pairs, std::vector<int> shape)
    : n_(std::max(n_rungs, 0)),
      pair_attempts_(std::max(n_pairs, 0), 0),
      pair_accepts_(pair_attempts_.size(), 0),
      last_extreme_(n_, kNoExtreme),
      trip_start_round_(n_, -1),
      trips_per_replica_(n_, 0),
      visits_up_(n_, 0),
      visits_labelled_(n_, 0) {
  int64_t product = 1;
  for (int size : shape) product *= std::max(size, 0);
  // Only a shape that fits the rungs, of two or more axes, is a grid.
  if (shape.size() < 2 || product != n_) return;
  shape_ = std::move(shape);
  strides_.assign(shape_.size(), 1);
  for (int a = static_cast<int>(shape_.size()) - 2; a >= 0; --a) {
    strides_[a] = strides_[a + 1] * shape_[a + 1];
  }
  axis_extreme_.assign(static_cast<size_t>(n_) * shape_.size(), kNoExtreme);
  axis_trips_.assign(shape_.size(), 0);
}

void Statistics::Record(const RoundOutcome& outcome) {
  // An outcome for another ladder size is a caller bug; counting it would
  // index out of range, so it is dropped whole.
  if (outcome.before.size() != n_ || outcome.after.size() != n_ ||
      outcome.pair_attempts.size() != pair_attempts_.size() ||
      outcome.pair_accepts.size() != pair_accepts_.size()) {
    return;
  }
  for (size_t k = 0; k < pair_attempts_.size(); ++k) {
    pair_attempts_[k] += outcome.pair_attempts[k];
    pair_accepts_[k] += outcome.pair_accepts[k];
  }
  for (int replica = 0; replica < n_; ++replica) {
    const int from = outcome.before.rung_of_replica(replica);
    const int to = outcome.after.rung_of_replica(replica);
    ++transitions_[static_cast<int64_t>(from) * n_ + to];
  }
  // Replica paths are observed at the state before the first recorded round
  // (time 0) and after every round (time = rounds recorded so far).
  auto visit = [this](int replica, int rung, int64_t time) {
    if (n_ < 2) return;  // no distinct extremes to travel between
    int& extreme = last_extreme_[replica];
    int64_t& start = trip_start_round_[replica];  // -1: no trip under way
    if (rung == 0) {
      // A replica first seen at the top has not started a trip there.
      if (extreme == kHighest && start >= 0) {
        ++trips_per_replica_[replica];
        trip_rounds_total_ += time - start;
      }
      // A trip starts on arrival at the lowest rung, not on leaving it:
      // consecutive trips then tile the replica's time line.
      if (extreme != kLowest) start = time;
      extreme = kLowest;
    } else if (rung == n_ - 1) {
      extreme = kHighest;
    }
    if (extreme != kNoExtreme) {
      ++visits_labelled_[rung];
      visits_up_[rung] += extreme == kLowest;
    }
  };
  // Along each axis of a grid: a trip is the axis's first rung, its last,
  // and the first again, counted on the return.
  auto visit_axes = [this](int replica, int rung) {
    const int axes = static_cast<int>(shape_.size());
    for (int a = 0; a < axes; ++a) {
      const int at = rung / strides_[a] % shape_[a];
      int& extreme = axis_extreme_[static_cast<size_t>(replica) * axes + a];
      if (at == 0) {
        if (extreme == kHighest) ++axis_trips_[a];
        extreme = kLowest;
      } else if (at == shape_[a] - 1 && extreme == kLowest) {
        extreme = kHighest;
      }
    }
  };
  if (rounds_ == 0) {
    for (int replica = 0; replica < n_; ++replica) {
      visit(replica, outcome.before.rung_of_replica(replica), 0);
      visit_axes(replica, outcome.before.rung_of_replica(replica));
    }
  }
  ++rounds_;
  for (int replica = 0; replica < n_; ++replica) {
    visit(replica, outcome.after.rung_of_replica(replica), rounds_);
    visit_axes(replica, outcome.after.rung_of_replica(replica));
  }
}

std::vector<double> Statistics::PairAcceptance() const {
  std::vector<double> acceptance(pair_attempts_.size(), kNaN);
  for (size_t k = 0; k < pair_attempts_.size(); ++k) {
    if (pair_attempts_[k] > 0) {
      acceptance[k] = static_cast<double>(pair_accepts_[k]) / pair_attempts_[k];
    }
  }
  return acceptance;
}

std::vector<std::vector<double>> Statistics::TransitionMatrix() const {
  const std::vector<double> row_sums = SymmetrisedRowSums(transitions_, n_);
  std::vector<std::vector<double>> matrix(n_, std::vector<double>(n_, kNaN));
  for (int i = 0; i < n_; ++i) {
    // NaN row: rung never observed.
    if (row_sums[i] > 0) std::fill(matrix[i].begin(), matrix[i].end(), 0.0);
  }
  for (const auto& [key, count] : transitions_) {
    const int from = static_cast<int>(key / n_),
              to = static_cast<int>(key % n_);
    matrix[from][to] += count / row_sums[from];
    matrix[to][from] += count / row_sums[to];
  }
  return matrix;
}

double Statistics::SecondLargestEigenvalue() const {
  if (rounds_ == 0 || n_ < 2) return kNaN;
  // T = D^-1 S for the symmetrised counts S with row sums s is similar to the
  // symmetric D^-1/2 S D^-1/2, whose entries S_ij / sqrt(s_i s_j) are built
  // directly so the solver sees an exactly symmetric matrix. Rungs without
  // counts have no row in T and are left out.
  const std::vector<double> row_sums = SymmetrisedRowSums(transitions_, n_);
  std::vector<int> rungs;
  for (int i = 0; i < n_; ++i) {
    if (row_sums[i] > 0) rungs.push_back(i);
  }
  const int m = static_cast<int>(rungs.size());
  if (m < 2) return kNaN;
  auto entry = [&](int p, int q) {
    const int i = rungs[p], j = rungs[q];
    return SymmetrisedCount(transitions_, n_, i, j) /
           std::sqrt(row_sums[i] * row_sums[j]);
  };
  // Neighbour exchange moves replicas by at most one rung per round, so S is
  // tridiagonal, and so is the matrix over the observed rungs.
  const bool tridiagonal =
      std::all_of(transitions_.begin(), transitions_.end(),
                  [this](const std::pair<const int64_t, int64_t>& entry) {
                    return std::abs(entry.first / n_ - entry.first % n_) <= 1;
                  });
  if (tridiagonal) {
    std::vector<double> diagonal(m), off_diagonal(m - 1);
    for (int p = 0; p < m; ++p) diagonal[p] = entry(p, p);
    for (int p = 0; p + 1 < m; ++p) off_diagonal[p] = entry(p, p + 1);
    return SymmetricTridiagonalEigenvalues(std::move(diagonal),
                                           off_diagonal)[1];
  }
  if (m > kMaxDenseEigenRungs) return kNaN;
  std::vector<double> symmetric(static_cast<size_t>(m) * m);
  for (int p = 0; p < m; ++p) {
    for (int q = 0; q < m; ++q) {
      symmetric[static_cast<size_t>(p) * m + q] = entry(p, q);
    }
  }
  return SymmetricEigenvalues(std::move(symmetric), m)[1];
}

int64_t Statistics::RoundTrips() const {
  int64_t total = 0;
  for (int64_t trips : trips_per_replica_) total += trips;
  return total;
}

double Statistics::MeanRoundTripRounds() const {
  const int64_t trips = RoundTrips();
  return trips > 0 ? static_cast<double>(trip_rounds_total_) / trips : kNaN;
}

std::vector<double> Statistics::FractionUp() const {
  std::vector<double> fraction(n_, kNaN);
  for (int k = 0; k < n_; ++k) {
    if (visits_labelled_[k] > 0) {
      fraction[k] = static_cast<double>(visits_up_[k]) / visits_labelled_[k];
    }
  }
  return fraction;
}

}  // namespace replex::exchange
