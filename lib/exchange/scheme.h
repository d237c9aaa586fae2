// Exchange schemes: which swaps are attempted in a round and how they are
// accepted. Pure functions of (ladder, permutation, energies, seed, round).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "lib/exchange/ladder.h"
#include "lib/exchange/permutation.h"

namespace replex::exchange {

enum class Scheme { kNone, kNeighbors, kGibbs };

absl::StatusOr<Scheme> ParseScheme(absl::string_view name);  // "neighbors", ...
const char* SchemeName(Scheme scheme);

// Metropolis rule: accept with probability min(1, exp(-delta)). delta == 0 and
// delta == -inf always accept, +inf never does; the caller rejects NaN before.
bool MetropolisAccept(double delta, double uniform01);

// Reduced potentials u_k(x_i) = beta_k * U_k(x_i) for one round, indexed by
// replica i (whose configuration) and rung k (whose Hamiltonian and beta).
// Not thread-safe for concurrent Set.
class ReducedPotentials {
 public:
  // T-REMD: u_k(x_i) = beta_k * potential_kj_mol[i], computed on demand.
  static ReducedPotentials FromPotentialEnergies(
      const Ladder& ladder, std::vector<double> potential_kj_mol);
  // General (H-REMD or mixed): every entry starts unknown (NaN) until Set.
  explicit ReducedPotentials(int n);

  void Set(int replica, int rung, double u);
  double Get(int replica, int rung) const;
  int size() const { return n_; }
  // The T-REMD form's potential energies (kJ/mol) by replica; empty for the
  // general form. Lets ExchangeRound compute (beta_a - beta_b)(U_j - U_i)
  // directly and refuse this form for a ladder with Hamiltonian parameters.
  const std::vector<double>& potential_energies() const { return potential_; }

 private:
  int n_ = 0;
  std::vector<double> betas_;      // T-REMD form
  std::vector<double> potential_;  // T-REMD form
  std::vector<double> matrix_;     // general form, n*n, row = replica
};

// Rungs whose reduced potential the replica at `rung` must report this round
// (besides its own rung) for a ladder that is not temperature-only: the
// partner under `neighbors`, every rung under `gibbs`, none under `none`.
std::vector<int> RungsToEvaluate(Scheme scheme, const Ladder& ladder,
                                 int64_t round, int rung);

// Under `neighbors` a round attempts the pairs of one sweep: the pairs along
// `axis` whose lower rung's coordinate there has `parity`. An ordinary ladder
// alternates the even and odd sweep (round r: parity r % 2, so (k, k+1) in
// rounds where k % 2 == r % 2). A grid cycles through (axis 0, even), (axis
// 1, even), ..., (axis 0, odd), (axis 1, odd), ..., leaving out the sweeps
// that hold no pair (the odd one of a 2-rung axis). A sweep's pairs are
// disjoint.
struct Sweep {
  int axis = 0;
  int parity = 0;
};
Sweep NeighborSweep(const Ladder& ladder, int64_t round);
bool NeighborPairActive(const Ladder& ladder, const Ladder::Pair& pair,
                        int64_t round);

// What happened in one round.
struct RoundOutcome {
  int64_t round = 0;
  Permutation before;
  Permutation after;
  // Per neighbour pair, in Ladder::pairs() order ((k, k+1), k = 0..n-2 on an
  // ordinary ladder): attempts and accepts this round. For gibbs only
  // attempts between neighbouring rungs are counted here.
  std::vector<int64_t> pair_attempts;
  std::vector<int64_t> pair_accepts;
  int64_t total_attempts = 0;
  int64_t total_accepts = 0;
};

// Decides a round's swaps. Random numbers come from Rng(seed, round). Fails
// with INVALID_ARGUMENT naming the replica and rung if a needed reduced
// potential is NaN or missing; +inf energies simply reject (Delta = +inf
// rejects, -inf accepts, and inf - inf, e.g. a T-REMD replica with an
// infinite energy, rejects).
// `gibbs_swap_attempts` <= 0 means the default 5 * n * ceil(log2 n).
absl::StatusOr<RoundOutcome> ExchangeRound(Scheme scheme, const Ladder& ladder,
                                           const Permutation& before,
                                           const ReducedPotentials& energies,
                                           uint64_t seed, int64_t round,
                                           int64_t gibbs_swap_attempts = 0);

// Asynchronous exchange: as ExchangeRound, but only rungs k with movable[k]
// (those of the replicas between segments) take part. A pair with a rung
// outside is never attempted (gibbs drops such a proposal, which keeps the
// proposal symmetric among the movable pairs), and only the movable
// replicas' reduced potentials are read. An empty `movable`: every rung.
absl::StatusOr<RoundOutcome> ExchangeAmong(Scheme scheme, const Ladder& ladder,
                                           const Permutation& before,
                                           const ReducedPotentials& energies,
                                           const std::vector<bool>& movable,
                                           uint64_t seed, int64_t round,
                                           int64_t gibbs_swap_attempts = 0);

}  // namespace replex::exchange
