// Feeds every job's life into CoordinatorMetrics: passed to the JobManager
// with the other JobObservers.
#pragma once

#include <memory>

#include "coordinator/coordinator_metrics.h"
#include "coordinator/job_manager.h"
#include "coordinator/job_observer.h"
#include "coordinator/worker_registry.h"
#include "prometheus/collectable.h"

namespace replex::coordinator {

class MetricsObserver : public JobObserver {
 public:
  // `metrics` must outlive the observer.
  explicit MetricsObserver(CoordinatorMetrics* metrics) : metrics_(metrics) {}

  absl::Status OnRunning(const v1::Job& job, const v1::JobSpec& spec,
                         int64_t next_round) override;
  absl::Status OnRound(const v1::Job& job,
                       const runner::RoundReport& report) override;
  void OnCheckpoint(const std::string& job_id, int64_t round,
                    double seconds) override;
  void OnReplicaRestart(const std::string& job_id) override;
  void OnFinished(const v1::Job& job) override;

 private:
  CoordinatorMetrics* const metrics_;
};

// Gauges read at each scrape from the registry and the job manager (both
// must outlive it): replex_coordinator_workers and, per worker,
// replex_coordinator_worker_{slots,max_replicas,hosted_replicas,draining};
// replex_jobs per state; replex_job_info for queued and running jobs and
// those ended within CoordinatorMetrics::kFinishedJobRetention of `clock`'s
// now (as long as their other series stay).
std::shared_ptr<prometheus::Collectable> ClusterGauges(
    const WorkerRegistry* registry, const JobManager* jobs,
    timing::Clock* clock);

}  // namespace replex::coordinator
