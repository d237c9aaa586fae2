#include "coordinator/job_progress.h"

#include <cmath>
#include <vector>

namespace replex::coordinator {

void SetProgress(const runner::RoundDriver& driver, double ns_per_day,
                 v1::Job& job) {
  const exchange::Statistics& statistics = driver.statistics();
  job.set_rounds_completed(driver.round());
  job.set_events_completed(driver.round());
  if (!driver.ladder_versions().empty()) {
    const std::vector<double>& temperatures =
        driver.ladder_versions().back().temperatures_k;
    job.mutable_temperatures_k()->Assign(temperatures.begin(),
                                         temperatures.end());
  }
  job.clear_pairs();
  const std::vector<double> acceptance = statistics.PairAcceptance();
  const std::vector<exchange::Ladder::Pair>& pairs = driver.ladder().pairs();
  for (size_t k = 0; k < acceptance.size() && k < pairs.size(); ++k) {
    v1::PairAcceptance& pair = *job.add_pairs();
    pair.set_lower_rung(pairs[k].lower);
    pair.set_upper_rung(pairs[k].upper);
    pair.set_axis(pairs[k].axis);
    pair.set_attempts(statistics.pair_attempts()[k]);
    pair.set_accepts(statistics.pair_accepts()[k]);
    // Statistics says NaN before any attempt; the API promises 0.
    pair.set_acceptance(std::isnan(acceptance[k]) ? 0 : acceptance[k]);
  }
  job.set_round_trips(statistics.RoundTrips());
  job.set_ns_per_day(ns_per_day);
  const std::vector<int>& rungs = driver.permutation().rung_of_replica();
  job.mutable_rung_of_replica()->Assign(rungs.begin(), rungs.end());
}

void SetTimestamp(absl::Time time, google::protobuf::Timestamp* timestamp) {
  const int64_t nanos = absl::ToUnixNanos(time);
  timestamp->set_seconds(nanos / 1000000000);
  timestamp->set_nanos(static_cast<int32_t>(nanos % 1000000000));
}

}  // namespace replex::coordinator
