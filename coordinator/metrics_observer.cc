#include "coordinator/metrics_observer.h"

#include <algorithm>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "lib/metrics/metrics.h"
#include "lib/spec/spec.h"

namespace replex::coordinator {

absl::Status MetricsObserver::OnRunning(const v1::Job& job,
                                        const v1::JobSpec& spec,
                                        int64_t next_round) {
  // The spec was validated at submission, so its ladder builds.
  absl::StatusOr<exchange::Ladder> ladder = spec::BuildLadder(spec.ladder());
  if (!ladder.ok()) return ladder.status();
  metrics_->JobStarted(job.job_id(), *ladder);
  if (next_round > 0) metrics_->JobResumed(job.job_id());
  return absl::OkStatus();
}

absl::Status MetricsObserver::OnRound(const v1::Job& job,
                                      const runner::RoundReport& report) {
  metrics_->Round(job.job_id(), report.outcome, job.rounds_completed(),
                  job.round_trips(), job.ns_per_day());
  metrics_->Mixing(job.job_id(), report.statistics,
                   job.rounds_completed() >= job.n_rounds());
  return absl::OkStatus();
}

void MetricsObserver::OnCheckpoint(const std::string& /*job_id*/,
                                   int64_t /*round*/, double seconds) {
  metrics_->CheckpointWritten(seconds);
}

void MetricsObserver::OnReplicaRestart(const std::string& job_id) {
  metrics_->ReplicaRestarted(job_id);
}

void MetricsObserver::OnFinished(const v1::Job& job) {
  metrics_->JobFinished(job.job_id());
}

std::shared_ptr<prometheus::Collectable> ClusterGauges(
    const WorkerRegistry* registry, const JobManager* jobs,
    timing::Clock* clock) {
  return std::make_shared<metrics::CallbackCollectable>([registry, jobs,
                                                         clock] {
    using metrics::AddGauge;
    prometheus::MetricFamily connected = metrics::GaugeFamily(
        "replex_coordinator_workers",
        "Workers with a session (draining ones included).");
    prometheus::MetricFamily slots = metrics::GaugeFamily(
        "replex_coordinator_worker_slots", "Segments a worker runs at once.");
    prometheus::MetricFamily max_replicas =
        metrics::GaugeFamily("replex_coordinator_worker_max_replicas",
                             "Replicas a worker may host.");
    prometheus::MetricFamily hosted =
        metrics::GaugeFamily("replex_coordinator_worker_hosted_replicas",
                             "Replicas placed on a worker.");
    prometheus::MetricFamily draining =
        metrics::GaugeFamily("replex_coordinator_worker_draining",
                             "1 while a worker drains (said Goodbye).");
    const std::vector<WorkerInfo> workers = registry->Workers();
    AddGauge(connected, {}, static_cast<double>(workers.size()));
    for (const WorkerInfo& worker : workers) {
      const std::vector<prometheus::ClientMetric::Label> labels{
          {"worker", worker.name}};
      AddGauge(slots, labels, worker.slots);
      AddGauge(max_replicas, labels, worker.max_replicas);
      AddGauge(hosted, labels, worker.hosted);
      AddGauge(draining, labels, worker.draining ? 1 : 0);
    }
    // Every state, zero ones too, so that sums and alerts see them.
    std::map<v1::JobState, int> by_state;
    for (int state = v1::QUEUED; state <= v1::CANCELLED; ++state) {
      by_state[static_cast<v1::JobState>(state)] = 0;
    }
    // What a job picker shows beside an id, for the jobs not ended yet and
    // those ended as recently as the per-job series are kept: all ended
    // ones would grow the series without bound.
    prometheus::MetricFamily info = metrics::GaugeFamily(
        "replex_job_info",
        "1 for each queued or running job and each recently ended one, "
        "labelled with its name, owner, platform and state.");
    const absl::Time recent =
        clock->Now() - CoordinatorMetrics::kFinishedJobRetention;
    const std::vector<v1::Job> all = jobs->List({});
    // The most recently ended, at most kMaxFinishedJobs, as for the other
    // per-job series.
    std::vector<int64_t> ended;
    for (const v1::Job& job : all) {
      if (job.has_finished()) ended.push_back(job.finished().seconds());
    }
    std::sort(ended.begin(), ended.end(), std::greater<int64_t>());
    const int64_t cutoff =
        ended.size() > static_cast<size_t>(CoordinatorMetrics::kMaxFinishedJobs)
            ? ended[CoordinatorMetrics::kMaxFinishedJobs - 1]
            : std::numeric_limits<int64_t>::min();
    for (const v1::Job& job : all) {
      ++by_state[job.state()];
      const bool ended_recently =
          job.has_finished() && job.finished().seconds() >= cutoff &&
          absl::FromUnixSeconds(job.finished().seconds()) > recent;
      if (job.state() == v1::QUEUED || job.state() == v1::RUNNING ||
          ended_recently) {
        AddGauge(
            info,
            {{"job_id", job.job_id()},
             {"name", job.name()},
             {"owner", job.owner()},
             {"platform", job.platform()},
             {"state", absl::AsciiStrToLower(v1::JobState_Name(job.state()))}},
            1);
      }
    }
    prometheus::MetricFamily states = metrics::GaugeFamily(
        "replex_jobs", "Jobs the coordinator knows, by state.");
    for (const auto& [state, count] : by_state) {
      AddGauge(states,
               {{"state", absl::AsciiStrToLower(v1::JobState_Name(state))}},
               count);
    }
    return std::vector<prometheus::MetricFamily>{
        connected, slots, max_replicas, hosted, draining, states, info};
  });
}

}  // namespace replex::coordinator
