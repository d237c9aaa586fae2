// Embedded mode (`replex run`): a whole job in this process, the RoundDriver
// over a LocalExecutor that multiplexes replicas over a pool of threads.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/engine/engine.h"
#include "lib/exchange/scheme.h"
#include "lib/exchange/statistics.h"
#include "replex/v1/job.pb.h"

namespace replex::runner {

// One round as seen by observers: the energies behind its decisions and the
// outcome. Valid only during the callback.
struct RoundReport {
  const exchange::RoundOutcome& outcome;
  // Potential energy (kJ/mol, at its rung before the swap) per replica.
  const std::vector<double>& potential_kj_mol;
  // The reduced potentials the decision used: u_k(x_i) for every (replica i,
  // rung k) under T-only ladders; for others the entries the scheme needed
  // (all of them under gibbs), NaN elsewhere.
  const exchange::ReducedPotentials& reduced;
  const exchange::Statistics& statistics;
  // Positions per replica (nm) after this round's segment, when the round is
  // a multiple of RunOptions::positions_every; null otherwise.
  const std::vector<std::vector<engine::Vec3>>* positions_nm;
  double elapsed_seconds;  // since the job started
};

struct RunOptions {
  int threads = 1;  // replicas multiplexed over this many threads
  // Pin each thread, and the OpenMM threads of the Contexts it creates, to
  // its own share of this process's CPUs (threads::SlotPool's `pin`). Only
  // for a machine the run has to itself.
  bool pin_threads = false;
  // Collect positions every this many rounds (0: never), for observers.
  int positions_every = 0;
  // Called after each round, on the calling thread; a non-OK status stops the
  // run and is returned.
  std::function<absl::Status(const RoundReport&)> on_round;
};

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
};

// Validates the spec, loads the model, creates one engine replica per rung
// (replica i starts at rung i) and runs n_rounds rounds.
absl::StatusOr<RunResult> RunJob(const v1::JobSpec& spec,
                                 const RunOptions& options);

// Aggregate throughput: replicas x rounds x steps x timestep per wall day.
double NsPerDay(const v1::JobSpec& spec, int n_replicas, int64_t rounds,
                double wall_seconds);

// The end-of-job figures from a job's statistics. Includes the transition
// matrix's eigenvalue, O(n^3) in rungs: not for every round.
RunResult Summarize(const v1::JobSpec& spec,
                    const exchange::Statistics& statistics,
                    const exchange::Permutation& permutation,
                    double wall_seconds);

}  // namespace replex::runner
