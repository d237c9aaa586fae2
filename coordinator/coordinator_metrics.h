// The coordinator's Prometheus metrics: the science of every job (exchange
// attempts and accepts per neighbour pair, round trips, rounds, ns/day), the
// segments each worker runs, the exchange overhead between rounds, worker
// sessions, checkpoints and replica restarts. docs/metrics.md lists them.
//
// Per-job series (label job_id) stay for kFinishedJobRetention after their
// job finishes, so that the last values are scraped and alerts resolve, and
// are then removed; at most kMaxFinishedJobs finished jobs keep series (the
// oldest go first), so a busy coordinator's series stay bounded.
//
// Thread-safe. Every method is cheap and never calls out, so it may be
// called with other locks held (the worker registry's, the job manager's),
// except Mixing: it solves for an eigenvalue (O(n^3) for gibbs ladders, about
// a second at 1000 rungs) on the caller's thread, at most every
// kMixingInterval per job, outside its own lock; call it with none held.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "lib/exchange/scheme.h"
#include "lib/exchange/statistics.h"
#include "lib/timing/clock.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "replex/v1/job.pb.h"

namespace replex::coordinator {

class CoordinatorMetrics {
 public:
  static constexpr absl::Duration kFinishedJobRetention = absl::Minutes(15);
  static constexpr int kMaxFinishedJobs = 50;
  // The replica walk (replex_job_replica_rung) is exported for the first
  // this many replicas of a job: enough to see how replicas travel, bounded
  // for jobs of thousands of rungs.
  static constexpr int kMaxReplicaSeries = 64;
  // The mixing gauges (second eigenvalue, round-trip time) cost an eigen
  // solve: at most one per job this often, a few scrapes' worth.
  static constexpr absl::Duration kMixingInterval = absl::Seconds(15);

  // `clock` times the exchange overhead and the expiry of finished jobs'
  // series; it must outlive the metrics.
  explicit CoordinatorMetrics(prometheus::Registry& registry,
                              timing::Clock* clock = timing::Clock::Real());
  CoordinatorMetrics(const CoordinatorMetrics&) = delete;
  CoordinatorMetrics& operator=(const CoordinatorMetrics&) = delete;

  // ---- per job (MetricsObserver) ----

  // The job is known: creates its series at zero so that rates and alerts
  // see them before the first attempt.
  void JobStarted(const std::string& job_id, const exchange::Ladder& ladder);
  // The job's rounds restart from `next_round` > 0 (a rollback to a
  // checkpoint or a resume after a coordinator restart).
  void JobResumed(const std::string& job_id);
  // One round decided: per-pair attempts and accepts of this round, the
  // rungs after it, the job's round trips so far and aggregate ns/day.
  void Round(const std::string& job_id, const exchange::RoundOutcome& outcome,
             int64_t rounds_completed, int64_t round_trips, double ns_per_day);
  // The job's mixing gauges from its statistics, when kMixingInterval has
  // passed since they were last set, the first time and at the job's
  // `last_round`.
  void Mixing(const std::string& job_id, const exchange::Statistics& statistics,
              bool last_round);
  // Schedules the job's series for removal (see above).
  void JobFinished(const std::string& job_id);

  // ---- per segment and worker (WorkerRegistry) ----

  // A segment's result arrived from `worker`: its wall time and the
  // simulated time it covered (steps_per_exchange * timestep). From the
  // round's last result (`last_of_round`) to the first order of the job's
  // next round (RoundOrdersOut) is the exchange overhead.
  void SegmentDone(const std::string& job_id, const std::string& worker,
                   const v1::JobSpec& spec, double seconds, bool last_of_round);
  void RoundOrdersOut(const std::string& job_id);
  // A worker registered; a name seen before counts as a reconnect.
  void WorkerConnected(const std::string& worker);
  void WorkerLost();

  // ---- durability (JobManager) ----

  void CheckpointWritten(double seconds);
  void ReplicaRestarted(const std::string& job_id);

 private:
  struct JobSeries {
    std::vector<prometheus::Counter*> attempts, accepts;  // per pair
    std::vector<prometheus::Gauge*> rung;  // per replica, < kMaxReplicaSeries
    prometheus::Counter* rounds = nullptr;
    prometheus::Counter* resumes = nullptr;
    prometheus::Counter* replica_restarts = nullptr;
    prometheus::Gauge* round = nullptr;
    prometheus::Gauge* running = nullptr;
    prometheus::Gauge* round_trips = nullptr;
    prometheus::Gauge* ns_per_day = nullptr;
    prometheus::Gauge* second_eigenvalue = nullptr;
    prometheus::Gauge* mean_round_trip_rounds = nullptr;
    std::optional<absl::Time> mixing_at;   // when Mixing last set them
    std::optional<absl::Time> results_in;  // last result of the open round
  };

  // Per worker, made at its first result: prometheus-cpp's Family::Add
  // builds a metric (a Histogram's buckets) before finding the existing one,
  // too dear for every result.
  struct WorkerSeries {
    prometheus::Histogram* segment_seconds = nullptr;
    prometheus::Counter* simulated_ns = nullptr;
  };

  JobSeries& Series(const std::string& job_id, const exchange::Ladder& ladder)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RemoveSeries(const std::string& job_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Removes series of jobs finished too long ago, or too many.
  void Expire(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  timing::Clock* const clock_;
  prometheus::Family<prometheus::Counter>& attempts_;
  prometheus::Family<prometheus::Counter>& accepts_;
  prometheus::Family<prometheus::Counter>& rounds_;
  prometheus::Family<prometheus::Counter>& resumes_;
  prometheus::Family<prometheus::Counter>& replica_restarts_;
  prometheus::Family<prometheus::Gauge>& round_;
  prometheus::Family<prometheus::Gauge>& running_;
  prometheus::Family<prometheus::Gauge>& round_trips_;
  prometheus::Family<prometheus::Gauge>& ns_per_day_;
  prometheus::Family<prometheus::Gauge>& rung_;
  prometheus::Family<prometheus::Gauge>& second_eigenvalue_;
  prometheus::Family<prometheus::Gauge>& mean_round_trip_rounds_;
  prometheus::Family<prometheus::Histogram>& segment_seconds_;
  prometheus::Family<prometheus::Counter>& simulated_ns_;
  prometheus::Histogram& exchange_overhead_;
  prometheus::Counter& worker_connects_;
  prometheus::Counter& worker_reconnects_;
  prometheus::Counter& workers_lost_;
  prometheus::Counter& checkpoints_;
  prometheus::Histogram& checkpoint_seconds_;

  absl::Mutex mu_;
  std::map<std::string, JobSeries> jobs_ ABSL_GUARDED_BY(mu_);
  // Finished jobs, oldest first, with when they finished.
  std::deque<std::pair<std::string, absl::Time>> finished_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> workers_seen_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, WorkerSeries> worker_series_ ABSL_GUARDED_BY(mu_);
};

}  // namespace replex::coordinator
