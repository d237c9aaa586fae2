// What a round and a run report, shared by every mode: the observers of a
// round (results files, metrics, progress lines) and the end-of-run summary
// behind the analysis.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/engine/engine.h"
#include "lib/exchange/ladder.h"
#include "lib/exchange/permutation.h"
#include "lib/exchange/scheme.h"
#include "lib/exchange/statistics.h"
#include "replex/v1/job.pb.h"

namespace replex::runner {

// A ladder an adaptive job (ladder.adapt) ran on: its temperatures from
// round `from_round` on, and the acceptance per neighbour pair measured on
// it, (accepts + 1/2) / (attempts + 1), which chose the next one under the
// equal-acceptance target (empty for the ladder in use).
struct LadderVersion {
  int64_t from_round = 0;
  std::vector<double> temperatures_k;
  // Per rung, the ladder's parameter values (Ladder::parameter_names()
  // order); empty inner vectors for a temperature-only ladder.
  std::vector<std::vector<double>> parameters;
  std::vector<double> acceptance;
  // Under the round-trip target, what chose the next version: the fraction
  // of up-going replicas per rung (NaN where unvisited); empty otherwise.
  std::vector<double> fraction_up;
  // Why the next version repeats this one: the tuner could not move its
  // rungs from what was measured on it (under the round-trip target, a rung
  // no replica from an end visited). Empty when it moved them, and for the
  // last version.
  std::string unchanged_because;
};

// The version `round` ran on: the last whose from_round is not after it (the
// first for earlier rounds). `versions` must not be empty.
const LadderVersion& VersionOf(const std::vector<LadderVersion>& versions,
                               int64_t round);

// `ladder` with a version's temperatures and parameters in place of its
// own.
absl::StatusOr<exchange::Ladder> WithVersion(const exchange::Ladder& ladder,
                                             const LadderVersion& version);

// One round as seen by observers: the energies behind its decisions and the
// outcome. Valid only during the callback.
struct RoundReport {
  const exchange::RoundOutcome& outcome;
  // Potential energy (kJ/mol, at its rung before the swap) per replica.
  const std::vector<double>& potential_kj_mol;
  // Kinetic energy (kJ/mol) per replica after its segment, before the
  // swap's velocity rescaling (engine::EnergyTerms::kinetic_kj_mol).
  const std::vector<double>& kinetic_kj_mol;
  // The reduced potentials the decision used: u_k(x_i) for every (replica i,
  // rung k) under T-only ladders; for others the entries the scheme needed
  // (all of them under gibbs), NaN elsewhere.
  const exchange::ReducedPotentials& reduced;
  const exchange::Statistics& statistics;
  // The periodic box per replica after this round's segment (NPT: it
  // changes; frames and volumes.tsv record it).
  const std::vector<engine::Box>& box_nm;
  // Positions per replica (nm) after this round's segment, when the round is
  // a multiple of RunOptions::positions_every; null otherwise.
  const std::vector<std::vector<engine::Vec3>>* positions_nm;
  double elapsed_seconds;  // since the job started
  // Each replica's state after this round's segment
  // (engine::PortableState::Serialize), on the job's last round (under
  // asynchronous exchange, its last event) only; null otherwise.
  const std::vector<std::string>* states = nullptr;
  // Adaptive ladders: every version so far (the round ran on the last one
  // whose from_round is not after it); null for a fixed ladder.
  const std::vector<LadderVersion>* ladder_versions = nullptr;
  // Asynchronous exchange: the replicas of this exchange event (those
  // between segments), whose entries alone are known (the others' are NaN,
  // their boxes zero); outcome.round counts events. Null: every replica.
  const std::vector<int>* replicas = nullptr;
  // Asynchronous exchange: each replica's segments finished so far,
  // counting this event's; their sum over replicas is the run's progress
  // (n_rounds x replicas at its end). Null otherwise.
  const std::vector<int64_t>* segments_by_replica = nullptr;
  // Asynchronous exchange: each rung's segments so far (its samples),
  // counting this event's. Null otherwise.
  const std::vector<int64_t>* segments_by_rung = nullptr;
  // Simulated ns per day of this run so far: the MD since it started (a
  // resumed or extended run's own) over elapsed_seconds; what the job and
  // analysis.json show.
  double ns_per_day = 0;
};

// Asynchronous exchange: the segments finished over all replicas by the end
// of `report`'s event (the sum of its segments_by_replica); 0 for a round.
int64_t SegmentsFinished(const RoundReport& report);

struct RunResult {
  int64_t rounds = 0;
  exchange::Permutation final_permutation;
  std::vector<double> pair_acceptance;  // per neighbour pair
  std::vector<int64_t> pair_attempts, pair_accepts;
  int64_t round_trips = 0;
  double mean_round_trip_rounds = 0;  // NaN when none
  double second_eigenvalue = 0;
  std::vector<double> fraction_up;
  double wall_seconds = 0;
  double simulated_ns = 0;  // summed over replicas
  double ns_per_day = 0;    // aggregate: simulated_ns / wall days
  // Asynchronous exchange: the events held (round trips and their mean
  // time count events) and the segments each replica ran (rounds is then
  // n_rounds: the same MD in all); 0 and empty otherwise.
  int64_t exchange_events = 0;
  std::vector<int64_t> segments_by_replica;
};

// Aggregate throughput: replicas x rounds x steps x timestep per wall day.
double NsPerDay(const v1::JobSpec& spec, int n_replicas, int64_t rounds,
                double wall_seconds);

// The end-of-job figures from a job's statistics, after `rounds` rounds
// (more than the statistics' when an adaptive ladder started them again).
// Includes the transition matrix's eigenvalue, O(n^3) in rungs: not for
// every round.
RunResult Summarize(const v1::JobSpec& spec,
                    const exchange::Statistics& statistics,
                    const exchange::Permutation& permutation, int64_t rounds,
                    double wall_seconds);

}  // namespace replex::runner
