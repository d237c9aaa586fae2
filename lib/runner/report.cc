#include "lib/runner/report.h"

namespace replex::runner {

RunResult Summarize(const v1::JobSpec& spec,
                    const exchange::Statistics& statistics,
                    const exchange::Permutation& permutation,
                    double wall_seconds) {
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
  result.wall_seconds = wall_seconds;
  result.simulated_ns =
      NsPerDay(spec, statistics.n_rungs(), result.rounds, 86400);
  result.ns_per_day =
      NsPerDay(spec, statistics.n_rungs(), result.rounds, wall_seconds);
  return result;
}

double NsPerDay(const v1::JobSpec& spec, int n_replicas, int64_t rounds,
                double wall_seconds) {
  if (wall_seconds <= 0) return 0;
  const double simulated_ns = static_cast<double>(n_replicas) * rounds *
                              spec.exchange().steps_per_exchange() *
                              spec.integrator().timestep_ps() / 1000.0;
  return simulated_ns * 86400 / wall_seconds;
}

}  // namespace replex::runner
