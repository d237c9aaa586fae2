#include "lib/runner/runner.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "lib/engine/engine.h"
#include "lib/exchange/rng.h"
#include "lib/runner/thread_pool.h"
#include "lib/spec/spec.h"

namespace replex::runner {
namespace {

// Domain separators keep OpenMM's seeds independent of the exchange decisions'
// random stream, which is Rng(seed, round).
constexpr uint64_t kSegmentSeedDomain = 0x5e9e47;
constexpr uint64_t kVelocitySeedDomain = 0x7e10c1;

uint64_t SegmentSeed(uint64_t job_seed, int replica, int64_t round) {
  return exchange::DeriveSeed(
      exchange::DeriveSeed(job_seed, kSegmentSeedDomain), replica, round);
}

engine::EngineOptions EngineOptionsFor(const v1::JobSpec& spec, int threads) {
  engine::EngineOptions options;
  options.platform = spec.platform();
  options.platform_properties.insert(spec.platform_properties().begin(),
                                     spec.platform_properties().end());
  options.timestep_ps = spec.integrator().timestep_ps();
  options.friction_per_ps = spec.integrator().friction_per_ps();
  // Each CPU Context would otherwise start one thread per core; with several
  // replicas in flight that oversubscribes the machine.
  if (options.platform == "CPU" &&
      options.platform_properties.count("Threads") == 0) {
    const int cores = std::max(1u, std::thread::hardware_concurrency());
    options.platform_properties["Threads"] =
        absl::StrCat(std::max(1, cores / std::max(1, threads)));
  }
  return options;
}

// The status of a replica's work, prefixed with where it happened.
absl::Status ReplicaError(const absl::Status& status, int replica, int rung,
                          int64_t round) {
  return absl::Status(status.code(),
                      absl::StrCat("replica ", replica, " (rung ", rung,
                                   ") in round ", round, ": ",
                                   status.message()));
}

}  // namespace

absl::StatusOr<RunResult> RunJob(const v1::JobSpec& spec,
                                 const RunOptions& options) {
  if (absl::Status valid = spec::Validate(spec); !valid.ok()) return valid;
  absl::StatusOr<exchange::Ladder> ladder = spec::BuildLadder(spec.ladder());
  if (!ladder.ok()) return ladder.status();
  const exchange::Scheme scheme = spec::SchemeOf(spec.exchange());
  absl::StatusOr<std::shared_ptr<const engine::Model>> model =
      engine::Model::Load(spec.system_xml(), spec.state_xml(), spec.pdb());
  if (!model.ok()) return model.status();

  const int n = ladder->size();
  const int threads = std::max(1, std::min(options.threads, n));
  const engine::EngineOptions engine_options = EngineOptionsFor(spec, threads);
  const uint64_t seed = spec.seed();
  const int steps = spec.exchange().steps_per_exchange();
  const absl::Time start = absl::Now();
  ThreadPool pool(threads);

  // Replica i starts at rung i. Contexts are created on the pool: on real
  // systems creation costs as much as a segment.
  std::vector<std::unique_ptr<engine::Replica>> replicas(n);
  std::vector<absl::Status> errors(n);
  pool.ParallelFor(n, [&](int i) {
    absl::StatusOr<std::unique_ptr<engine::Replica>> replica =
        engine::Replica::Create(
            *model, engine_options, *ladder, i,
            exchange::DeriveSeed(seed, kVelocitySeedDomain, i));
    if (replica.ok()) {
      replicas[i] = *std::move(replica);
    } else {
      errors[i] = replica.status();
    }
  });
  for (const absl::Status& error : errors) {
    if (!error.ok()) return error;
  }

  exchange::Permutation permutation = exchange::Permutation::Identity(n);
  exchange::Statistics statistics(n);
  std::vector<double> potentials(n);
  std::vector<std::vector<engine::Vec3>> positions(n);
  for (int64_t round = 0; round < spec.exchange().n_rounds(); ++round) {
    // Only Hamiltonian ladders need a matrix; T-REMD derives u from U.
    exchange::ReducedPotentials matrix(ladder->temperature_only() ? 0 : n);
    const bool want_positions = options.positions_every > 0 &&
                                round % options.positions_every == 0;
    // Each task moves its replica to the rung the last round gave it, runs a
    // segment and evaluates the energies this round's decision needs. Tasks
    // touch only their own replica and their own row of `matrix`.
    pool.ParallelFor(n, [&](int i) {
      const int rung = permutation.rung_of_replica(i);
      engine::Replica& replica = *replicas[i];
      absl::Status status =
          rung == replica.rung() ? absl::OkStatus() : replica.SetRung(rung);
      if (status.ok()) status = replica.Run(steps, SegmentSeed(seed, i, round));
      absl::StatusOr<double> potential =
          status.ok() ? replica.PotentialEnergy() : status;
      if (potential.ok()) {
        potentials[i] = *potential;
        if (!ladder->temperature_only()) {
          std::vector<int> rungs =
              exchange::RungsToEvaluate(scheme, n, round, rung);
          rungs.push_back(rung);
          absl::StatusOr<std::vector<double>> u =
              replica.ReducedPotentials(rungs);
          if (u.ok()) {
            for (size_t k = 0; k < rungs.size(); ++k) {
              matrix.Set(i, rungs[k], (*u)[k]);
            }
          } else {
            potential = u.status();
          }
        }
      }
      if (potential.ok() && want_positions) {
        absl::StatusOr<engine::PortableState> state = replica.Save();
        if (state.ok()) {
          positions[i] = std::move(state->positions_nm);
        } else {
          potential = state.status();
        }
      }
      errors[i] = potential.ok()
                      ? absl::OkStatus()
                      : ReplicaError(potential.status(), i, rung, round);
    });
    for (const absl::Status& error : errors) {
      if (!error.ok()) return error;
    }
    const exchange::ReducedPotentials reduced =
        ladder->temperature_only()
            ? exchange::ReducedPotentials::FromPotentialEnergies(*ladder,
                                                                 potentials)
            : std::move(matrix);
    absl::StatusOr<exchange::RoundOutcome> outcome = exchange::ExchangeRound(
        scheme, *ladder, permutation, reduced, seed, round,
        spec.exchange().swap_attempts());
    if (!outcome.ok()) return outcome.status();
    statistics.Record(*outcome);
    permutation = outcome->after;
    if (options.on_round) {
      const RoundReport report{*outcome, potentials, reduced, statistics,
                               want_positions ? &positions : nullptr,
                               absl::ToDoubleSeconds(absl::Now() - start)};
      if (absl::Status status = options.on_round(report); !status.ok()) {
        return status;
      }
    }
  }

  RunResult result;
  result.rounds = statistics.rounds();
  result.final_permutation = permutation;
  result.pair_acceptance = statistics.PairAcceptance();
  result.pair_attempts = statistics.pair_attempts();
  result.pair_accepts = statistics.pair_accepts();
  result.round_trips = statistics.RoundTrips();
  result.mean_round_trip_rounds = statistics.MeanRoundTripRounds();
  result.second_eigenvalue = statistics.SecondLargestEigenvalue();
  result.fraction_up = statistics.FractionUp();
  result.wall_seconds = absl::ToDoubleSeconds(absl::Now() - start);
  result.simulated_ns = static_cast<double>(n) * result.rounds * steps *
                        spec.integrator().timestep_ps() / 1000.0;
  result.ns_per_day = result.wall_seconds > 0
                          ? result.simulated_ns / (result.wall_seconds / 86400)
                          : 0;
  return result;
}

}  // namespace replex::runner
