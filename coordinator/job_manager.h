// The coordinator's jobs: their life cycle (QUEUED -> RUNNING -> SUCCEEDED,
// FAILED or CANCELLED), the exchange loop of every running job, and the
// events watchers see. Domain logic only: proto messages are used as plain
// data, and no gRPC type appears here.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "coordinator/job_observer.h"
#include "coordinator/job_watch.h"
#include "coordinator/replica_pool.h"
#include "lib/runner/asynchronous.h"
#include "lib/runner/driver.h"
#include "lib/store/checkpoint_store.h"
#include "lib/store/journal.h"
#include "lib/timing/clock.h"
#include "replex/v1/job.pb.h"
#include "replex/v1/job_service.pb.h"

namespace replex::coordinator {

// How the job manager keeps jobs across failures.
struct JobDurability {
  // Where jobs, rounds and checkpoints are recorded. Null: a journal in
  // memory, owned by the manager (rollbacks work, restarts lose all).
  store::Journal* journal = nullptr;
  // Where checkpoints are written. Null: none are, and a rollback goes
  // back to round 0.
  store::CheckpointStore* checkpoints = nullptr;
  // A job whose replicas fail (NaN or Inf energy, integration errors)
  // more than this many times in one coordinator's life fails.
  int max_replica_restarts = 3;
  // A job that loses workers holding its replicas more than this many times
  // before it gets past the round it lost the last one in fails: an input
  // that takes workers down (an OpenMM crash, memory exhaustion) ends the
  // job with the reason instead of rolling it back forever. Workers lost
  // together (one failed round) count once; losses spread over a long job's
  // progress (preemptions, node failures) never add up.
  int max_worker_losses = 3;
};

// How queued jobs start.
struct JobScheduling {
  // Queued jobs are tried fair share first: the jobs of owners running the
  // fewest replicas, then in submission order, per platform. One that does
  // not fit the free room does not hold back later jobs that do
  // (backfill), until it has waited this long: then later jobs wait behind
  // it, so that room freed by ending jobs goes to it and a stream of small
  // jobs cannot starve a large one.
  absl::Duration backfill_window = absl::Minutes(30);
  // Per owner (0: no limit): replicas running at once, over every
  // platform (a job that would pass it waits, saying so), and jobs queued
  // at once (SubmitJob past it is RESOURCE_EXHAUSTED).
  int max_running_replicas_per_owner = 0;
  int max_queued_jobs_per_owner = 0;
};

// Owns every job. Each running job has one thread that loops
// RoundDriver::Orders -> JobExecutor::RunSegments -> RoundDriver::Complete
// and publishes the result. Every round is journaled, and every
// checkpoint_interval rounds (and after the last) the replicas' states are
// checkpointed. When a worker holding replicas is lost or a replica fails
// (NaN or Inf energy, an integration error), the job rolls back to its last
// checkpoint (round 0 without one) and goes on: the rounds after it are
// recomputed, the same rounds bit for bit where the platform is
// deterministic, except that a failed replica restarts with fresh
// velocities. Queued jobs start in submission order per
// platform (a job never overtakes an earlier queued job of its platform, so a
// large job cannot be starved by small ones) as soon as the pool has room.
//
// The API and the queue are in job_manager.cc, each job's thread in
// job_runner.cc, the cut a rollback returns to in lib/runner/cut.h.
//
// Thread-safe. Decisions are taken under mu_; disk writes (the journal,
// results, checkpoints) and observers' calls happen with mu_ released: a
// state change decided under mu_ is queued as an Effect and applied, in the
// order decided, right after. Lock order: effects_mu_, then mu_, then the
// pool's locks, then a JobWatch's lock.
class JobManager {
 public:
  using Durability = JobDurability;

  // `pool`, `clock`, the observers and the journal and checkpoint store
  // must outlive the manager. Job ids are drawn from a generator seeded
  // with `id_seed`. Observers are told in their order.
  JobManager(ReplicaPool* pool, timing::Clock* clock, uint64_t id_seed,
             std::vector<JobObserver*> observers = {},
             Durability durability = {}, JobScheduling scheduling = {});
  ~JobManager();  // Shutdown()
  JobManager(const JobManager&) = delete;
  JobManager& operator=(const JobManager&) = delete;

  // Fills defaults (spec::ApplyDefaults), validates (INVALID_ARGUMENT naming
  // the field), queues the job and starts it if there is room. Returns its id,
  // "j" followed by 12 hex digits.
  absl::StatusOr<std::string> Submit(v1::JobSpec spec);

  // NOT_FOUND for an unknown id.
  absl::StatusOr<v1::Job> Get(absl::string_view job_id) const;

  // Jobs in submission order; only those in `states` unless it is empty.
  std::vector<v1::Job> List(const std::vector<v1::JobState>& states) const;

  // Stops a queued or running job: CANCELLED at once, its workers' places
  // freed, results still in flight dropped. Cancelling a job that has already
  // ended returns it unchanged.
  absl::StatusOr<v1::Job> Cancel(absl::string_view job_id);

  // Queues an ended job again with `rounds` more rounds (ExtendJob): it
  // resumes from its last checkpoint (round 0 without one), so on a
  // deterministic platform its exchange log, results and statistics end as
  // if it had been submitted with all its rounds. The new total is checked
  // as a submission's n_rounds is. FAILED_PRECONDITION for a job that has
  // not ended, INVALID_ARGUMENT for rounds < 0 or a job with all its rounds
  // done and rounds == 0, NOT_FOUND for an unknown id. It keeps its place in
  // submission order.
  absl::StatusOr<v1::Job> Extend(absl::string_view job_id, int64_t rounds)
      ABSL_LOCKS_EXCLUDED(mu_, extend_mu_);

  // Subscribes to a job's events. For a job that has already ended the watch
  // holds just its final snapshot and then ends with OK, so a late watcher
  // learns the outcome the same way as one that watched it happen.
  absl::StatusOr<std::shared_ptr<JobWatch>> Watch(absl::string_view job_id);

  // Loads the journal's jobs, as after a restart: ended ones as they were
  // (Get and List show them), unfinished ones queued to resume from their
  // last checkpoint. Call once, before the first Submit.
  absl::Status Recover();

  // Stops every job thread and ends every watch with UNAVAILABLE, leaving
  // job states as they are: a coordinator restarted on the same journal
  // resumes them. Idempotent.
  void Shutdown();

 private:
  struct Record {
    std::string id;  // set before the job is listed, never changed
    v1::Job job;     // what Get and watchers see
    int64_t seq = 0;
    std::shared_ptr<const v1::JobSpec> spec;  // dropped when the job ends
    // Owned by the job's thread once it runs; created at Submit so that the
    // ladder is built once and Job can show temperatures at once.
    std::unique_ptr<runner::RoundDriver> driver;
    // Set while the job holds places: from its start until its thread ends.
    std::unique_ptr<JobExecutor> executor;
    std::thread thread;
    std::vector<std::shared_ptr<JobWatch>> watchers;
    absl::Time started_at;
    // Rounds completed when this run of the job began (its first
    // NotifyRunning since it was started; -1 before): its ns/day counts
    // those since, over the time since started_at.
    int64_t rounds_at_start = -1;
    std::string waiting_for;  // why it is queued, as last logged
    bool resume = false;  // recovered from the journal: start at its last cut
    int replica_restarts = 0;
    absl::Time queued_at;  // since when it has been QUEUED
    // Workers lost since the job last got past `lost_in_round`, the latest
    // round it lost one in.
    int worker_losses = 0;
    int64_t lost_in_round = -1;
  };

  // What a state change leaves to do once mu_ is released: journal the
  // job's snapshot and, when the state is final, tell the observers.
  struct Effect {
    v1::Job job;
    bool finished = false;
  };
  // Holds mu_ for a scope; on leaving it releases mu_ and applies the
  // effects decided meanwhile.
  class ABSL_SCOPED_LOCKABLE Locked {
   public:
    explicit Locked(JobManager* manager)
        ABSL_EXCLUSIVE_LOCK_FUNCTION(manager->mu_);
    ~Locked() ABSL_UNLOCK_FUNCTION();
    Locked(const Locked&) = delete;
    Locked& operator=(const Locked&) = delete;

   private:
    JobManager* const manager_;
  };
  // Applies the queued effects in the order they were decided.
  void ApplyEffects() ABSL_LOCKS_EXCLUDED(mu_, effects_mu_);

  absl::StatusOr<Record*> Find(absl::string_view job_id) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // A fresh id, reserved until the job is listed or its submission fails.
  std::string NewJobId() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Starts every queued job there is room for.
  void StartQueued() ABSL_LOCKS_EXCLUDED(mu_);
  void StartQueuedLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The job's thread.
  void Run(Record* record) ABSL_LOCKS_EXCLUDED(mu_);
  // Its exchange loop in synchronous rounds: orders, results, the
  // decision and the journal, each round's observers, watchers and
  // checkpoint while the next one computes, and rollbacks on failures.
  // `resume`: start at the last checkpoint.
  absl::Status RunRounds(Record& record, runner::RoundDriver& driver,
                         JobExecutor& executor, const v1::JobSpec& spec,
                         bool resume) ABSL_LOCKS_EXCLUDED(mu_);
  // Its exchange loop under asynchronous exchange (exchange.mode): runs
  // the job on the executor's SegmentStream (runner::RunAsynchronously),
  // journals each exchange event as a round, tells observers and watchers
  // of it, and checkpoints at barriers every checkpoint_interval rounds'
  // worth of segments and at the end; a failure rolls back to the last
  // barrier's checkpoint and goes on from its counts. `resume`: start at
  // the last checkpoint.
  absl::Status RunAsynchronous(Record& record, runner::RoundDriver& driver,
                               JobExecutor& executor, const v1::JobSpec& spec,
                               bool resume) ABSL_LOCKS_EXCLUDED(mu_);
  // Tells the observers the job runs from `next_round`.
  absl::Status NotifyRunning(Record& record, const v1::JobSpec& spec,
                             int64_t next_round) ABSL_LOCKS_EXCLUDED(mu_);
  // Handles a failed round: a rollback when `why` calls for one and the job
  // may go on (OK: carry on), else the status that ends the job. `from`:
  // see Rollback.
  absl::Status HandleFailedRound(Record& record, runner::RoundDriver& driver,
                                 JobExecutor& executor, const v1::JobSpec& spec,
                                 const absl::Status& why,
                                 runner::AsynchronousRun* from = nullptr)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Puts the driver and the job's replicas back at its last checkpoint
  // (round 0 without one); `faulty` restarts with fresh velocities. An
  // asynchronous job's counts at the checkpoint go to `from`.
  absl::Status Rollback(Record& record, runner::RoundDriver& driver,
                        JobExecutor& executor, const v1::JobSpec& spec,
                        std::optional<int> faulty,
                        runner::AsynchronousRun* from = nullptr)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Whether the round that completes `rounds_done` rounds is checkpointed.
  bool CheckpointDue(const v1::JobSpec& spec, int64_t rounds_done) const;
  // Writes and journals `checkpoint`, made since `start`
  // (runner::SaveCheckpoint), and tells the observers; on failure logs that
  // the previous checkpoint stands (a rollback goes there).
  void WriteCheckpoint(const absl::StatusOr<v1::Checkpoint>& checkpoint,
                       const std::string& job_id, absl::Time start);
  // A round the driver has completed and the journal holds, whose
  // observers, watchers and checkpoint are still to come.
  struct FinishedRound {
    const runner::RoundDriver::Completed* completed;  // the driver's
    std::vector<runner::SegmentResult> results;
    v1::Job job;  // the job as of this round
    double elapsed_seconds;
    bool with_positions;
    bool with_state;
  };
  // Records a completed round: the job's progress (`rounds_done` rounds, or
  // rounds' worth of segments under asynchronous exchange) and the journal,
  // before any replica hears of its new rung. CANCELLED when the job is no
  // longer running.
  absl::StatusOr<v1::Job> JournalRound(
      Record& record, const runner::RoundDriver& driver,
      const runner::RoundDriver::Completed& completed, int64_t rounds_done,
      double& elapsed_seconds) ABSL_LOCKS_EXCLUDED(mu_);
  // Tells the observers of a journaled round (or exchange event), then its
  // watchers (so a watcher that sees it can read its results). CANCELLED
  // when the job is no longer running; an observer's error otherwise.
  absl::Status TellRound(Record& record, const v1::Job& job,
                         const runner::RoundReport& report)
      ABSL_LOCKS_EXCLUDED(mu_);
  // The rest of a journaled round, run while the workers compute the next
  // one: the observers, then the watchers (so a watcher that sees round r can
  // read its results), then the checkpoint when due. CANCELLED when the job
  // is no longer running; an observer's error otherwise.
  absl::Status FinishRound(Record& record, const runner::RoundDriver& driver,
                           FinishedRound& round) ABSL_LOCKS_EXCLUDED(mu_);
  // Moves the job to `state`, stamps times, logs, tells watchers and queues
  // the journal update (and the observers' OnFinished); ends the watches
  // when the state is final.
  void SetState(Record& record, v1::JobState state, const std::string& error)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Records (in the job, for GetJob and watchers) and logs why a queued job
  // does not start, when that changes.
  void SetQueueReason(Record& record, const std::string& reason)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Publish(Record& record, v1::JobEvent event)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  ReplicaPool* const pool_;
  timing::Clock* const clock_;
  const std::vector<JobObserver*> observers_;
  std::unique_ptr<store::Journal> own_journal_;  // when Durability has none
  store::Journal* const journal_;
  store::CheckpointStore* const checkpoints_;
  const int max_replica_restarts_;
  const int max_worker_losses_;
  const JobScheduling scheduling_;
  // Serializes Extend calls: one joins a job's ended thread unlocked
  // before starting the next, and no other may start one meanwhile.
  absl::Mutex extend_mu_ ABSL_ACQUIRED_BEFORE(effects_mu_);
  // Held while effects are applied, so they land in the order decided.
  absl::Mutex effects_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  mutable absl::Mutex mu_;
  std::vector<Effect> effects_ ABSL_GUARDED_BY(mu_);
  std::mt19937_64 id_rng_ ABSL_GUARDED_BY(mu_);
  // Ids chosen for submissions still being journaled.
  std::set<std::string> reserved_ids_ ABSL_GUARDED_BY(mu_);
  int64_t next_seq_ ABSL_GUARDED_BY(mu_) = 0;
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  // Records are never erased, so Record pointers stay valid for the job
  // threads.
  std::map<std::string, std::unique_ptr<Record>> jobs_ ABSL_GUARDED_BY(mu_);
};

}  // namespace replex::coordinator
