// Feedback-optimised ladder spacing: from the neighbour acceptance (or the
// replicas' travel) measured on a ladder, the ladder with the same end rungs
// on which every neighbour pair would accept equally often, or on which
// replicas would make the most round trips (docs/exchange.md). A ladder is
// a path through temperature and parameter space; its rungs move along that
// path, every value linear between two old rungs.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/exchange/ladder.h"

namespace replex::exchange {

struct TunedLadder {
  std::vector<Rung> rungs;  // first and last as given
  // What every neighbour pair of the tuned ladder is expected to accept.
  double predicted_acceptance = 0;
};

// A pair's acceptance from its counts, with half an accept and one attempt
// added, so that a pair that accepted every attempt, or none, still has a
// finite, non-zero distance to its neighbour: (accepts + 1/2) / (attempts +
// 1), strictly in (0, 1). What every adaptive change acts on.
inline double EstimatedAcceptance(int64_t accepts, int64_t attempts) {
  return (accepts + 0.5) / (attempts + 1.0);
}

// The inverse of std::erfc on (0, 1], by bisection to 1e-15 relative in x
// (so erfc(ErfcInverse(p)) == p to about 1e-12 relative far in the tail). p <=
// 0 gives the value for 1e-300, p >= 1 gives 0.
double ErfcInverse(double p);

// `acceptance` holds the measured acceptance of each pair (k, k+1) of
// `ladder`. Model: neighbouring rungs whose potential energies are Gaussian
// with a common width sigma accept erfc((beta_k - beta_{k+1}) sigma / 2), so
// erfcinv(a_k) measures the distance between them (the thermodynamic
// length); spreading that length evenly over the same number of rungs, with
// sigma constant between each pair of old rungs, equalises the acceptance.
// New rungs are linear in beta and in every parameter within an old
// interval. (Along a parameter the model is that of Hamiltonian exchange
// with a Gaussian energy difference of width s, whose mean is s^2 / 2 by
// the fluctuation theorem: it accepts erfc(s / (2 sqrt 2)), so erfcinv(a_k)
// is again proportional to the distance.)
// A pair that never accepted counts as 1e-300 (its distance is then under-
// rather than overestimated: measure again on the tuned ladder).
// FAILED_PRECONDITION, saying why, unless the ladder is an ordinary ladder
// (one axis, no per-rung pressures) of at least 3 rungs, no two neighbours
// the same, and every pair's acceptance is a number in [0, 1].
absl::StatusOr<TunedLadder> EqualAcceptanceLadder(
    const Ladder& ladder, const std::vector<double>& acceptance);

// A grid ladder (two or more axes, no per-rung pressures) whose rungs are
// the product of its axes, each quantity (the temperature, a parameter)
// varying along one axis at most: every axis of 3 or more rungs re-spaced
// by EqualAcceptanceLadder along its own line of values, from the
// acceptance of its pairs pooled over every line parallel to it (the counts
// at each position along the axis summed, then EstimatedAcceptance); an
// axis of 2 rungs keeps its ends. Pooling is exact where a pair's acceptance
// does not depend on the other axes (a temperature axis against a Hamiltonian
// one that scales the energy, as in the tests); otherwise each axis gets the
// spacing of its average line. `pair_attempts` and `pair_accepts` are per
// Ladder::pairs(). FAILED_PRECONDITION, saying why, for any other ladder or
// counts.
absl::StatusOr<std::vector<Rung>> EqualAcceptanceGrid(
    const Ladder& ladder, const std::vector<int64_t>& pair_attempts,
    const std::vector<int64_t>& pair_accepts);

// Round-trip-optimised spacing (Katzgraber, Trebst, Huse and Troyer, J.
// Stat. Mech. 2006, P03018): `fraction_up` holds, per rung of `ladder`, the
// fraction of its visits by replicas travelling up (last at the lowest rung;
// Statistics::FractionUp). The rungs' density that maximises round trips is
// proportional to sqrt((df/dT) / dT), so the returned temperatures (the same
// ends) give each old interval a share sqrt(f_k - f_{k+1}) of the rungs,
// spread evenly in T (and in every parameter) within it; on the ladder this
// converges to, f falls by the same step at every rung. A fall below a tenth
// of the even step (noise can make it negative) counts as that tenth.
// FAILED_PRECONDITION, saying why, unless the ladder is an ordinary ladder
// of at least 3 rungs, no two neighbours the same, and every fraction is a
// number in [0, 1].
absl::StatusOr<std::vector<Rung>> RoundTripLadder(
    const Ladder& ladder, const std::vector<double>& fraction_up);

}  // namespace replex::exchange
