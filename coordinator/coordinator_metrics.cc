#include "coordinator/coordinator_metrics.h"

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "lib/metrics/metrics.h"

namespace replex::coordinator {
namespace {

prometheus::Family<prometheus::Counter>& CounterFamily(
    prometheus::Registry& registry, const std::string& name,
    const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry);
}

prometheus::Family<prometheus::Gauge>& GaugeFamily(
    prometheus::Registry& registry, const std::string& name,
    const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(registry);
}

prometheus::Family<prometheus::Histogram>& HistogramFamily(
    prometheus::Registry& registry, const std::string& name,
    const std::string& help) {
  return prometheus::BuildHistogram().Name(name).Help(help).Register(registry);
}

}  // namespace

CoordinatorMetrics::CoordinatorMetrics(prometheus::Registry& registry,
                                       timing::Clock* clock)
    : clock_(clock),
      attempts_(CounterFamily(
          registry, "replex_exchange_attempts_total",
          "Exchange attempts between neighbour rungs pair=\"k-(k+1)\" "
          "(lower_rung=\"k\", zero-padded to 4 digits so that text order is "
          "rung order; a grid ladder's pairs are \"lower-upper\" with an "
          "axis label); rounds redone after a rollback count again.")),
      accepts_(CounterFamily(registry, "replex_exchange_accepts_total",
                             "Accepted exchanges between neighbour rungs.")),
      rounds_(CounterFamily(registry, "replex_job_rounds_total",
                            "Exchange rounds completed (redone rounds count "
                            "again).")),
      resumes_(CounterFamily(registry, "replex_job_resumes_total",
                             "Times the job restarted from a checkpoint "
                             "(rollback or coordinator restart).")),
      replica_restarts_(CounterFamily(
          registry, "replex_replica_restarts_total",
          "Replicas restarted from a checkpoint after a failed segment.")),
      round_(GaugeFamily(registry, "replex_job_round",
                         "Rounds the job has completed (its current round).")),
      running_(GaugeFamily(registry, "replex_job_running",
                           "1 while the job runs, 0 once it has finished.")),
      round_trips_(GaugeFamily(registry, "replex_job_round_trips",
                               "Completed ladder round trips, all replicas.")),
      ns_per_day_(GaugeFamily(registry, "replex_job_ns_per_day",
                              "Aggregate simulated ns/day over the job's "
                              "replicas since it started.")),
      rung_(GaugeFamily(registry, "replex_job_replica_rung",
                        "The rung each replica is at (first 64 replicas).")),
      second_eigenvalue_(GaugeFamily(
          registry, "replex_job_second_eigenvalue",
          "Second eigenvalue of the job's empirical rung transition matrix "
          "(near 1: slow mixing); refreshed at most every 15 s.")),
      mean_round_trip_rounds_(GaugeFamily(
          registry, "replex_job_mean_round_trip_rounds",
          "Mean rounds per completed round trip (NaN before the first); "
          "refreshed at most every 15 s.")),
      segment_seconds_(HistogramFamily(
          registry, "replex_segment_duration_seconds",
          "Wall time of MD segments, as reported by the worker.")),
      simulated_ns_(CounterFamily(
          registry, "replex_segment_simulated_ns_total",
          "Simulated nanoseconds of the segments each worker returned.")),
      exchange_overhead_(
          HistogramFamily(registry, "replex_exchange_overhead_seconds",
                          "From a round's last segment result to the next "
                          "round's orders handed to the workers' sessions.")
              .Add({}, metrics::DurationBuckets())),
      worker_connects_(CounterFamily(registry,
                                     "replex_coordinator_worker_sessions_total",
                                     "Worker sessions registered.")
                           .Add({})),
      worker_reconnects_(
          CounterFamily(registry, "replex_coordinator_worker_rejoins_total",
                        "Sessions of a worker name seen before (restarts "
                        "and reconnects).")
              .Add({})),
      workers_lost_(CounterFamily(registry,
                                  "replex_coordinator_workers_lost_total",
                                  "Workers lost (heartbeat timeout or gone "
                                  "holding replicas).")
                        .Add({})),
      checkpoints_(CounterFamily(registry, "replex_checkpoints_total",
                                 "Job checkpoints written.")
                       .Add({})),
      checkpoint_seconds_(HistogramFamily(registry,
                                          "replex_checkpoint_duration_seconds",
                                          "Time to write one checkpoint.")
                              .Add({}, metrics::DurationBuckets())) {}

CoordinatorMetrics::JobSeries& CoordinatorMetrics::Series(
    const std::string& job_id, const exchange::Ladder& ladder) {
  auto [it, inserted] = jobs_.try_emplace(job_id);
  JobSeries& series = it->second;
  if (!inserted) return series;
  const prometheus::Labels job{{"job_id", job_id}};
  for (const exchange::Ladder::Pair& neighbours : ladder.pairs()) {
    prometheus::Labels pair = job;
    pair["pair"] = absl::StrCat(neighbours.lower, "-", neighbours.upper);
    pair["lower_rung"] = absl::StrFormat("%04d", neighbours.lower);
    // A grid's rung has a pair along each axis: the axis tells them apart.
    if (ladder.axes() > 1) pair["axis"] = absl::StrCat(neighbours.axis);
    series.attempts.push_back(&attempts_.Add(pair));
    series.accepts.push_back(&accepts_.Add(pair));
  }
  const int n_replicas = ladder.size();
  for (int r = 0; r < std::min(n_replicas, kMaxReplicaSeries); ++r) {
    prometheus::Labels replica = job;
    replica["replica"] = absl::StrCat(r);
    series.rung.push_back(&rung_.Add(replica));
    series.rung.back()->Set(r);
  }
  series.rounds = &rounds_.Add(job);
  series.resumes = &resumes_.Add(job);
  series.replica_restarts = &replica_restarts_.Add(job);
  series.round = &round_.Add(job);
  series.running = &running_.Add(job);
  series.round_trips = &round_trips_.Add(job);
  series.ns_per_day = &ns_per_day_.Add(job);
  series.second_eigenvalue = &second_eigenvalue_.Add(job);
  series.mean_round_trip_rounds = &mean_round_trip_rounds_.Add(job);
  series.second_eigenvalue->Set(std::numeric_limits<double>::quiet_NaN());
  series.mean_round_trip_rounds->Set(std::numeric_limits<double>::quiet_NaN());
  return series;
}

void CoordinatorMetrics::RemoveSeries(const std::string& job_id) {
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) return;
  JobSeries& series = it->second;
  for (prometheus::Counter* counter : series.attempts)
    attempts_.Remove(counter);
  for (prometheus::Counter* counter : series.accepts) accepts_.Remove(counter);
  for (prometheus::Gauge* gauge : series.rung) rung_.Remove(gauge);
  rounds_.Remove(series.rounds);
  resumes_.Remove(series.resumes);
  replica_restarts_.Remove(series.replica_restarts);
  round_.Remove(series.round);
  running_.Remove(series.running);
  round_trips_.Remove(series.round_trips);
  ns_per_day_.Remove(series.ns_per_day);
  second_eigenvalue_.Remove(series.second_eigenvalue);
  mean_round_trip_rounds_.Remove(series.mean_round_trip_rounds);
  jobs_.erase(it);
}

void CoordinatorMetrics::Expire(absl::Time now) {
  while (!finished_.empty() &&
         (static_cast<int>(finished_.size()) > kMaxFinishedJobs ||
          now - finished_.front().second > kFinishedJobRetention)) {
    RemoveSeries(finished_.front().first);
    finished_.pop_front();
  }
}

void CoordinatorMetrics::JobStarted(const std::string& job_id,
                                    const exchange::Ladder& ladder) {
  absl::MutexLock lock(&mu_);
  Expire(clock_->Now());
  Series(job_id, ladder).running->Set(1);
}

void CoordinatorMetrics::JobResumed(const std::string& job_id) {
  absl::MutexLock lock(&mu_);
  if (auto it = jobs_.find(job_id); it != jobs_.end()) {
    it->second.resumes->Increment();
  }
}

void CoordinatorMetrics::Round(const std::string& job_id,
                               const exchange::RoundOutcome& outcome,
                               int64_t rounds_completed, int64_t round_trips,
                               double ns_per_day) {
  absl::MutexLock lock(&mu_);
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) return;  // JobStarted comes first; or expired
  JobSeries& series = it->second;
  for (size_t k = 0;
       k < series.attempts.size() && k < outcome.pair_attempts.size() &&
       k < outcome.pair_accepts.size();
       ++k) {
    series.attempts[k]->Increment(
        static_cast<double>(outcome.pair_attempts[k]));
    series.accepts[k]->Increment(static_cast<double>(outcome.pair_accepts[k]));
  }
  for (int r = 0;
       r < static_cast<int>(series.rung.size()) && r < outcome.after.size();
       ++r) {
    series.rung[r]->Set(outcome.after.rung_of_replica(r));
  }
  series.rounds->Increment();
  series.round->Set(static_cast<double>(rounds_completed));
  series.round_trips->Set(static_cast<double>(round_trips));
  series.ns_per_day->Set(ns_per_day);
}

void CoordinatorMetrics::Mixing(const std::string& job_id,
                                const exchange::Statistics& statistics,
                                bool last_round) {
  {
    absl::MutexLock lock(&mu_);
    auto it = jobs_.find(job_id);
    if (it == jobs_.end()) return;
    const absl::Time now = clock_->Now();
    std::optional<absl::Time>& last = it->second.mixing_at;
    if (!last_round && last.has_value() && now - *last < kMixingInterval) {
      return;
    }
    last = now;
  }
  // The eigenvalue is O(n^3) for gibbs ladders: outside the lock.
  const double lambda2 = statistics.SecondLargestEigenvalue();
  const double trip = statistics.MeanRoundTripRounds();
  absl::MutexLock lock(&mu_);
  if (auto it = jobs_.find(job_id); it != jobs_.end()) {
    it->second.second_eigenvalue->Set(lambda2);
    it->second.mean_round_trip_rounds->Set(trip);
  }
}

void CoordinatorMetrics::JobFinished(const std::string& job_id) {
  absl::MutexLock lock(&mu_);
  if (auto it = jobs_.find(job_id); it != jobs_.end()) {
    it->second.running->Set(0);
  }
  const absl::Time now = clock_->Now();
  finished_.emplace_back(job_id, now);
  Expire(now);
}

void CoordinatorMetrics::SegmentDone(const std::string& job_id,
                                     const std::string& worker,
                                     const v1::JobSpec& spec, double seconds,
                                     bool last_of_round) {
  absl::MutexLock lock(&mu_);
  auto [series, added] = worker_series_.try_emplace(worker);
  if (added) {
    const prometheus::Labels labels{{"worker", worker}};
    series->second = {&segment_seconds_.Add(labels, metrics::DurationBuckets()),
                      &simulated_ns_.Add(labels)};
  }
  series->second.segment_seconds->Observe(seconds);
  // timestep in ps, so steps * timestep / 1000 ns.
  series->second.simulated_ns->Increment(spec.exchange().steps_per_exchange() *
                                         spec.integrator().timestep_ps() /
                                         1000);
  if (!last_of_round) return;
  if (auto it = jobs_.find(job_id); it != jobs_.end()) {
    it->second.results_in = clock_->Now();
  }
}

void CoordinatorMetrics::RoundOrdersOut(const std::string& job_id) {
  absl::MutexLock lock(&mu_);
  auto it = jobs_.find(job_id);
  if (it == jobs_.end() || !it->second.results_in.has_value()) return;
  exchange_overhead_.Observe(
      absl::ToDoubleSeconds(clock_->Now() - *it->second.results_in));
  it->second.results_in.reset();
}

void CoordinatorMetrics::WorkerConnected(const std::string& worker) {
  worker_connects_.Increment();
  absl::MutexLock lock(&mu_);
  if (!workers_seen_.insert(worker).second) worker_reconnects_.Increment();
}

void CoordinatorMetrics::WorkerLost() { workers_lost_.Increment(); }

void CoordinatorMetrics::CheckpointWritten(double seconds) {
  checkpoints_.Increment();
  checkpoint_seconds_.Observe(seconds);
}

void CoordinatorMetrics::ReplicaRestarted(const std::string& job_id) {
  absl::MutexLock lock(&mu_);
  if (auto it = jobs_.find(job_id); it != jobs_.end()) {
    it->second.replica_restarts->Increment();
  }
}

}  // namespace replex::coordinator
