// Mixing statistics of a replica-exchange run, accumulated round by round.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "lib/exchange/scheme.h"

namespace replex::exchange {

// Not thread-safe.
class Statistics {
 public:
  // `n_pairs` neighbour pairs: the ladder's pairs().size(), n_rungs - 1 for
  // an ordinary ladder. Record drops outcomes of any other shape. A grid
  // ladder's `shape` (Ladder::shape(), rungs per axis, the last axis varying
  // fastest) adds round trips along each axis; empty for an ordinary one.
  Statistics(int n_rungs, int n_pairs, std::vector<int> shape = {});

  // Call once per round, in round order.
  void Record(const RoundOutcome& outcome);

  int n_rungs() const { return n_; }
  int64_t rounds() const { return rounds_; }
  const std::vector<int64_t>& pair_attempts() const { return pair_attempts_; }
  const std::vector<int64_t>& pair_accepts() const { return pair_accepts_; }
  // accepts / attempts per neighbour pair, in Ladder::pairs() order ((k, k+1)
  // on an ordinary ladder); NaN where no attempts.
  std::vector<double> PairAcceptance() const;

  // Empirical rung-to-rung transition matrix over one round (row-stochastic,
  // from the counts of replicas moving from rung i to rung j), symmetrised as
  // (C + C^T) / 2 so that it is reversible and its spectrum real.
  std::vector<std::vector<double>> TransitionMatrix() const;
  // Above this many observed rungs a transition matrix that is not
  // tridiagonal (gibbs moves replicas across the ladder) is not solved: its
  // dense O(n^3) eigen-solve would take seconds to minutes, and the results
  // writer refreshes this figure while the job runs.
  static constexpr int kMaxDenseEigenRungs = 512;
  // Second-largest eigenvalue of TransitionMatrix(); near 1 means slow mixing.
  // Returns NaN before any round, for a single rung, and for a matrix that is
  // not tridiagonal over more than kMaxDenseEigenRungs rungs.
  double SecondLargestEigenvalue() const;

  // Round trips: a replica goes lowest rung -> highest rung -> lowest rung
  // (on a grid: first corner -> opposite corner -> first corner).
  int64_t RoundTrips() const;
  const std::vector<int64_t>& round_trips_per_replica() const {
    return trips_per_replica_;
  }
  // Grid ladders: per axis, round trips of all replicas together from the
  // axis's first rung to its last and back, whatever the other axes do;
  // empty for an ordinary ladder.
  const std::vector<int64_t>& axis_round_trips() const { return axis_trips_; }
  // Mean rounds per completed round trip; NaN when none completed.
  double MeanRoundTripRounds() const;
  // Per rung: fraction of visits by replicas whose last extreme was the lowest
  // rung (travelling up). NaN for rungs with no such labelled visits.
  std::vector<double> FractionUp() const;

 private:
  int n_;
  int64_t rounds_ = 0;
  std::vector<int64_t> pair_attempts_, pair_accepts_;
  // Rung moves over one round, (from * n + to) -> count. Sparse: neighbour
  // exchange only ever fills three diagonals, and a dense table would hold
  // n^2 counts (128 MiB at 4096 rungs).
  absl::flat_hash_map<int64_t, int64_t> transitions_;
  std::vector<int> last_extreme_;  // per replica: -1 none, 0 low, 1 high
  std::vector<int64_t> trip_start_round_;
  std::vector<int64_t> trips_per_replica_;
  int64_t trip_rounds_total_ = 0;
  std::vector<int64_t> visits_up_, visits_labelled_;
  // Grid ladders: rungs and stride per axis, each replica's last extreme
  // along each axis (replica * axes + axis), and trips per axis.
  std::vector<int> shape_, strides_;
  std::vector<int> axis_extreme_;
  std::vector<int64_t> axis_trips_;
};

}  // namespace replex::exchange
