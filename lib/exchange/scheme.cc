// Exchange schemes: Metropolis swaps between neighbouring rungs or between
// random nearby pairs of rungs, decided from one round's reduced potentials.
#include "lib/exchange/scheme.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "lib/exchange/rng.h"

namespace replex::exchange {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

int CeilLog2(int n) {
  int ceil_log2 = 0;
  while ((int64_t{1} << ceil_log2) < n) ++ceil_log2;
  return ceil_log2;
}

// 5 n ceil(log2 n) attempts over pairs at most ceil(log2 n) rungs apart
// (GibbsRound): about 5 attempts per such pair per round at every n, where
// `neighbors` makes 0.5 per adjacent pair. Within a round the energies are
// fixed, so more attempts mostly resample the same conditional
// distribution (twice as many moved replicas at most 8% further in
// GibbsMixingTest), and 1024 rungs stay within the 2 ms decision budget.
int64_t DefaultGibbsAttempts(int n) {
  if (n < 2) return 0;
  return int64_t{5} * n * CeilLog2(n);
}

// Computes the exchange Delta for swapping the replicas at two rungs and
// checks beforehand that the reduced potentials a decision needs are known.
class DeltaCalculator {
 public:
  // `movable` (by rung; empty: every rung) holds the rungs whose replicas
  // may swap: asynchronous exchange's replicas between segments.
  DeltaCalculator(const Ladder& ladder, const ReducedPotentials& energies,
                  int64_t round, const std::vector<bool>& movable)
      : ladder_(ladder),
        energies_(energies),
        potentials_(energies.potential_energies()),
        round_(round),
        movable_(movable) {}

  bool Movable(int rung) const { return movable_.empty() || movable_[rung]; }
  bool Movable(int a, int b) const { return Movable(a) && Movable(b); }
  bool asynchronous() const { return !movable_.empty(); }

  // OK unless u_rung(x_replica) is NaN (missing or not a number); the error
  // names the replica, the rung asked for, where the replica sits and the
  // round, so the report that lacked it can be found.
  absl::Status CheckKnown(const Permutation& permutation, int replica,
                          int rung) const {
    const bool temperature_form = !potentials_.empty();
    const double value =
        temperature_form ? potentials_[replica] : energies_.Get(replica, rung);
    if (!std::isnan(value)) return absl::OkStatus();
    if (temperature_form) {
      return absl::InvalidArgumentError(absl::StrCat(
          "round ", round_, ": replica ", replica, " (at rung ",
          permutation.rung_of_replica(replica),
          ") has a NaN or missing potential energy; the exchange needs every "
          "replica's energy"));
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "round ", round_, ": the reduced potential of replica ", replica,
        " at rung ", rung, " is NaN or missing (the replica is at rung ",
        permutation.rung_of_replica(replica),
        "); the replica must report its energy at every rung it may swap to"));
  }

  // Every entry the pair (a, b) needs.
  absl::Status CheckPair(const Permutation& permutation, int a, int b) const {
    const int i = permutation.replica_at_rung(a);
    const int j = permutation.replica_at_rung(b);
    for (const auto& [replica, rung] :
         {std::pair{i, a}, std::pair{i, b}, std::pair{j, a}, std::pair{j, b}}) {
      if (absl::Status status = CheckKnown(permutation, replica, rung);
          !status.ok()) {
        return status;
      }
    }
    return absl::OkStatus();
  }

  // Every entry any pair of movable rungs could need (gibbs), so that
  // whether a round fails does not depend on which pairs the random numbers
  // happen to pick.
  absl::Status CheckAll(const Permutation& permutation) const {
    const int n = ladder_.size();
    for (int replica = 0; replica < n; ++replica) {
      if (!Movable(permutation.rung_of_replica(replica))) continue;
      for (int rung = 0; rung < n; ++rung) {
        if (!Movable(rung)) continue;
        if (absl::Status status = CheckKnown(permutation, replica, rung);
            !status.ok()) {
          return status;
        }
        if (!potentials_.empty()) break;  // one energy per replica
      }
    }
    return absl::OkStatus();
  }

  // Delta = u_a(x_j) + u_b(x_i) - u_a(x_i) - u_b(x_j) for replica i at rung a
  // and j at rung b. Infinite terms give +-inf (reject / accept); where they
  // cancel (inf - inf) the move cannot be shown to be allowed, and the NaN
  // returned makes MetropolisAccept reject it.
  double Delta(int i, int j, int a, int b) const {
    if (!potentials_.empty()) {
      const double u_i = potentials_[i];
      const double u_j = potentials_[j];
      // The factored T-REMD form avoids cancelling large reduced potentials.
      // An infinite energy appears in both an old and a new term: undefined.
      if (!std::isfinite(u_i) || !std::isfinite(u_j)) return kNaN;
      return (ladder_.beta(a) - ladder_.beta(b)) * (u_j - u_i);
    }
    // Grouped by Hamiltonian, so each difference compares like with like.
    return (energies_.Get(j, a) - energies_.Get(i, a)) +
           (energies_.Get(i, b) - energies_.Get(j, b));
  }

  const Ladder& ladder() const { return ladder_; }

 private:
  const Ladder& ladder_;
  const ReducedPotentials& energies_;
  const std::vector<double>& potentials_;
  const int64_t round_;
  const std::vector<bool>& movable_;
};

bool InSweep(const Ladder& ladder, const Ladder::Pair& pair, Sweep sweep) {
  return pair.axis == sweep.axis &&
         ladder.Coordinate(pair.lower, pair.axis) % 2 == sweep.parity;
}

// Attempts the swap of rungs a and b with `uniform`, updates the permutation
// and the counters.
void AttemptSwap(const DeltaCalculator& calculator, int a, int b,
                 double uniform, RoundOutcome& outcome) {
  Permutation& permutation = outcome.after;
  const int i = permutation.replica_at_rung(a);
  const int j = permutation.replica_at_rung(b);
  const bool accepted = MetropolisAccept(calculator.Delta(i, j, a, b), uniform);
  if (accepted) permutation.SwapRungs(a, b);
  ++outcome.total_attempts;
  outcome.total_accepts += accepted;
  if (const int pair = calculator.ladder().PairIndex(a, b); pair >= 0) {
    ++outcome.pair_attempts[pair];
    outcome.pair_accepts[pair] += accepted;
  }
}

absl::Status NeighborsRound(const DeltaCalculator& calculator, uint64_t seed,
                            RoundOutcome& outcome) {
  const Ladder& ladder = calculator.ladder();
  // Asynchronous exchange draws each event's sweep: taken in turn, the
  // sweeps fell into step with a regular completion order, and a pair whose
  // replicas waited together only at events of the other parity was never
  // attempted (4 replicas on 2 scripted slots, one 1.5 times slower: pair
  // (2, 3) in none of 13,000 events). The draw comes from its own stream
  // and does not depend on the state. 720720 = lcm(1..16) makes it uniform
  // over any cycle of sweeps (at most 16).
  const Sweep sweep =
      calculator.asynchronous()
          ? NeighborSweep(ladder,
                          static_cast<int64_t>(
                              Rng(seed, static_cast<uint64_t>(outcome.round),
                                  /*stream=*/1)
                                  .Below(720720)))
          : NeighborSweep(ladder, outcome.round);
  std::vector<Ladder::Pair> active;
  for (const Ladder::Pair& pair : ladder.pairs()) {
    if (InSweep(ladder, pair, sweep) &&
        calculator.Movable(pair.lower, pair.upper)) {
      active.push_back(pair);
    }
  }
  // Validate before drawing anything: a round either fails whole or decides.
  for (const Ladder::Pair& pair : active) {
    if (absl::Status status =
            calculator.CheckPair(outcome.before, pair.lower, pair.upper);
        !status.ok()) {
      return status;
    }
  }
  Rng rng(seed, static_cast<uint64_t>(outcome.round));
  // Active pairs are disjoint, so each decision sees the round's starting
  // assignment of its two rungs; one uniform per pair, in pair order.
  for (const Ladder::Pair& pair : active) {
    AttemptSwap(calculator, pair.lower, pair.upper, rng.Uniform(), outcome);
  }
  return absl::OkStatus();
}

absl::Status GibbsRound(const DeltaCalculator& calculator, uint64_t seed,
                        int64_t attempts, RoundOutcome& outcome) {
  const int n = outcome.before.size();
  if (n < 2) return absl::OkStatus();
  if (absl::Status status = calculator.CheckAll(outcome.before); !status.ok()) {
    return status;
  }
  if (attempts <= 0) attempts = DefaultGibbsAttempts(n);
  Rng rng(seed, static_cast<uint64_t>(outcome.round));
  const Ladder& ladder = calculator.ladder();
  if (ladder.axes() > 1) {
    // On a grid, a window of rung numbers would leave out the pairs along
    // every axis whose stride exceeds it: each attempt is a neighbour pair
    // along any axis, all equally likely whatever the state.
    const std::vector<Ladder::Pair>& pairs = ladder.pairs();
    for (int64_t t = 0; t < attempts; ++t) {
      const Ladder::Pair& pair = pairs[rng.Below(pairs.size())];
      if (!calculator.Movable(pair.lower, pair.upper)) continue;
      AttemptSwap(calculator, pair.lower, pair.upper, rng.Uniform(), outcome);
    }
    return absl::OkStatus();
  }
  // Pairs of rungs at most `window` apart are proposed, each with the same
  // probability whatever the state (a symmetric proposal, so Metropolis
  // acceptance keeps detailed balance exactly). Uniform over all n(n-1)/2
  // pairs would spend almost every attempt on distant rungs that a
  // temperature ladder never swaps: at n = 1024 adjacent pairs got 0.2
  // attempts a round, fewer than `neighbors` gives them. ceil(log2 n) rungs
  // still lets a replica cross several rungs at once where energies overlap
  // that far (H-REMD).
  const int window = std::min(n - 1, CeilLog2(n));  // n >= 2: at least 1
  // There are n - d pairs d rungs apart; r in [0, total) picks one, listed
  // by distance, then by lower rung.
  uint64_t total = 0;
  for (int d = 1; d <= window; ++d) total += n - d;
  for (int64_t t = 0; t < attempts; ++t) {
    uint64_t r = rng.Below(total);
    int d = 1;
    while (r >= static_cast<uint64_t>(n - d)) r -= n - d++;
    const int a = static_cast<int>(r);
    // Asynchronous exchange: a proposal that would move a running replica is
    // dropped, which keeps the proposal symmetric among the movable pairs.
    if (!calculator.Movable(a, a + d)) continue;
    AttemptSwap(calculator, a, a + d, rng.Uniform(), outcome);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Scheme> ParseScheme(absl::string_view name) {
  for (Scheme scheme : {Scheme::kNone, Scheme::kNeighbors, Scheme::kGibbs}) {
    if (name == SchemeName(scheme)) return scheme;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown exchange scheme '", name,
                   "': use one of none, neighbors, gibbs"));
}

const char* SchemeName(Scheme scheme) {
  switch (scheme) {
    case Scheme::kNone:
      return "none";
    case Scheme::kNeighbors:
      return "neighbors";
    case Scheme::kGibbs:
      return "gibbs";
  }
  return "unknown";
}

bool MetropolisAccept(double delta, double uniform01) {
  if (delta <= 0) return true;  // also -inf
  // exp(-37) < 1e-16, so the answer is already known without calling exp,
  // which is slow where it underflows; Gibbs rounds on wide ladders are
  // mostly such far-fetched swaps.
  if (delta > 37 && uniform01 >= 1e-16) return false;
  // uniform01 < exp(-delta) has probability exp(-delta) for uniform01 in
  // [0, 1); exp(-inf) == 0 rejects +inf, and NaN compares false: rejected.
  return uniform01 < std::exp(-delta);
}

ReducedPotentials ReducedPotentials::FromPotentialEnergies(
    const Ladder& ladder, std::vector<double> potential_kj_mol) {
  ReducedPotentials reduced(0);
  reduced.n_ = static_cast<int>(potential_kj_mol.size());
  reduced.betas_.reserve(ladder.size());
  for (int k = 0; k < ladder.size(); ++k) {
    reduced.betas_.push_back(ladder.beta(k));
  }
  reduced.potential_ = std::move(potential_kj_mol);
  return reduced;
}

ReducedPotentials::ReducedPotentials(int n)
    : n_(std::max(n, 0)),
      matrix_(static_cast<size_t>(n_) * n_,
              std::numeric_limits<double>::quiet_NaN()) {}

// Out-of-range indices are ignored (Get then keeps answering NaN), so a bad
// index from a worker surfaces as a "missing" error in ExchangeRound rather
// than as a crash. Writes to distinct entries of the general form touch
// distinct memory, so threads may fill distinct rows concurrently.
void ReducedPotentials::Set(int replica, int rung, double u) {
  if (replica < 0 || replica >= n_ || rung < 0 || rung >= n_) return;
  if (!potential_.empty()) {
    // Turning a T-REMD form into the general form: materialise it once.
    matrix_.resize(static_cast<size_t>(n_) * n_);
    for (int i = 0; i < n_; ++i) {
      for (int k = 0; k < n_; ++k) {
        matrix_[static_cast<size_t>(i) * n_ + k] = Get(i, k);
      }
    }
    potential_.clear();
    betas_.clear();
  }
  matrix_[static_cast<size_t>(replica) * n_ + rung] = u;
}

double ReducedPotentials::Get(int replica, int rung) const {
  if (replica < 0 || replica >= n_ || rung < 0) return kNaN;
  if (!potential_.empty()) {
    if (rung >= static_cast<int>(betas_.size())) return kNaN;
    return betas_[rung] * potential_[replica];
  }
  if (rung >= n_) return kNaN;
  return matrix_[static_cast<size_t>(replica) * n_ + rung];
}

std::vector<int> RungsToEvaluate(Scheme scheme, const Ladder& ladder,
                                 int64_t round, int rung) {
  const int n_rungs = ladder.size();
  std::vector<int> rungs;
  if (rung < 0 || rung >= n_rungs) return rungs;
  switch (scheme) {
    case Scheme::kNone:
      break;
    case Scheme::kNeighbors: {
      if (round < 0) break;
      // Only the round's sweep has active pairs.
      const Sweep sweep = NeighborSweep(ladder, round);
      const int stride = ladder.Stride(sweep.axis);
      const int at = ladder.Coordinate(rung, sweep.axis);
      if (at % 2 == sweep.parity && at + 1 < ladder.shape()[sweep.axis]) {
        rungs.push_back(rung + stride);
      } else if (at % 2 != sweep.parity && at > 0) {
        rungs.push_back(rung - stride);
      }
      break;
    }
    case Scheme::kGibbs:
      for (int k = 0; k < n_rungs; ++k) {
        if (k != rung) rungs.push_back(k);
      }
      break;
  }
  return rungs;
}

Sweep NeighborSweep(const Ladder& ladder, int64_t round) {
  if (round < 0) return {};
  if (ladder.axes() == 1) return {0, static_cast<int>(round % 2)};
  // An axis of e rungs has an even sweep when e >= 2 and an odd one when
  // e >= 3; at most 2 * 8 sweeps, so they are counted out each time.
  std::vector<Sweep> sweeps;
  for (int parity = 0; parity < 2; ++parity) {
    for (int axis = 0; axis < ladder.axes(); ++axis) {
      if (ladder.shape()[axis] >= 2 + parity) sweeps.push_back({axis, parity});
    }
  }
  if (sweeps.empty()) return {};
  return sweeps[round % static_cast<int64_t>(sweeps.size())];
}

bool NeighborPairActive(const Ladder& ladder, const Ladder::Pair& pair,
                        int64_t round) {
  return round >= 0 && InSweep(ladder, pair, NeighborSweep(ladder, round));
}

absl::StatusOr<RoundOutcome> ExchangeRound(Scheme scheme, const Ladder& ladder,
                                           const Permutation& before,
                                           const ReducedPotentials& energies,
                                           uint64_t seed, int64_t round,
                                           int64_t gibbs_swap_attempts) {
  return ExchangeAmong(scheme, ladder, before, energies, {}, seed, round,
                       gibbs_swap_attempts);
}

absl::StatusOr<RoundOutcome> ExchangeAmong(Scheme scheme, const Ladder& ladder,
                                           const Permutation& before,
                                           const ReducedPotentials& energies,
                                           const std::vector<bool>& movable,
                                           uint64_t seed, int64_t round,
                                           int64_t gibbs_swap_attempts) {
  const int n = ladder.size();
  if (!movable.empty() && static_cast<int>(movable.size()) != n) {
    return absl::InvalidArgumentError(
        absl::StrCat("round ", round, ": ", movable.size(),
                     " movable flags for a ladder of ", n, " rungs"));
  }
  if (before.size() != n || energies.size() != n) {
    return absl::InvalidArgumentError(
        absl::StrCat("round ", round, ": the ladder has ", n,
                     " rungs but the permutation has ", before.size(),
                     " replicas and the energies ", energies.size(),
                     ": give one replica per rung"));
  }
  if (round < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("round ", round, " is negative: rounds count from 0"));
  }
  if (!energies.potential_energies().empty() && !ladder.temperature_only()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "round ", round,
        ": the ladder's rungs differ in Hamiltonian parameters, so potential "
        "energies alone cannot decide an exchange: give the reduced potential "
        "of each replica at each rung it may swap to"));
  }
  RoundOutcome outcome;
  outcome.round = round;
  outcome.before = before;
  outcome.after = before;
  outcome.pair_attempts.assign(ladder.pairs().size(), 0);
  outcome.pair_accepts.assign(ladder.pairs().size(), 0);
  const DeltaCalculator calculator(ladder, energies, round, movable);
  absl::Status status;
  switch (scheme) {
    case Scheme::kNone:
      break;
    case Scheme::kNeighbors:
      status = NeighborsRound(calculator, seed, outcome);
      break;
    case Scheme::kGibbs:
      status = GibbsRound(calculator, seed, gibbs_swap_attempts, outcome);
      break;
  }
  if (!status.ok()) return status;
  return outcome;
}

}  // namespace replex::exchange
