#include "lib/runner/report.h"

#include <numeric>
#include <utility>

#include "absl/strings/str_cat.h"

namespace replex::runner {

const LadderVersion& VersionOf(const std::vector<LadderVersion>& versions,
                               int64_t round) {
  auto version = versions.rbegin();
  while (version + 1 != versions.rend() && version->from_round > round) {
    ++version;
  }
  return *version;
}

absl::StatusOr<exchange::Ladder> WithVersion(const exchange::Ladder& ladder,
                                             const LadderVersion& version) {
  std::vector<exchange::Rung> rungs = ladder.rungs();
  if (version.temperatures_k.size() != rungs.size() ||
      version.parameters.size() != rungs.size()) {
    return absl::InternalError(
        absl::StrCat("a ladder version of ", version.temperatures_k.size(),
                     " temperatures and ", version.parameters.size(),
                     " parameter sets for ", rungs.size(), " rungs"));
  }
  for (size_t k = 0; k < rungs.size(); ++k) {
    rungs[k].temperature_k = version.temperatures_k[k];
    rungs[k].parameters = version.parameters[k];
  }
  return exchange::Ladder::Create(ladder.parameter_names(), std::move(rungs),
                                  ladder.shape());
}

int64_t SegmentsFinished(const RoundReport& report) {
  if (report.segments_by_replica == nullptr) return 0;
  return std::accumulate(report.segments_by_replica->begin(),
                         report.segments_by_replica->end(), int64_t{0});
}

RunResult Summarize(const v1::JobSpec& spec,
                    const exchange::Statistics& statistics,
                    const exchange::Permutation& permutation, int64_t rounds,
                    double wall_seconds) {
  RunResult result;
  result.rounds = rounds;
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
