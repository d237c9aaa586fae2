// A job's own thread: its exchange loop (orders, results, the decision, the
// journal), the work each round leaves to do while the next one computes
// (observers, watchers, checkpoints), and rollbacks to the last checkpoint.
#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "coordinator/checkpoint_recovery.h"
#include "coordinator/job_manager.h"
#include "coordinator/job_progress.h"
#include "lib/runner/cut.h"
#include "lib/runner/report.h"
#include "lib/service/process.h"

namespace replex::coordinator {
namespace {

// A replica whose energy is not finite has blown up: its round cannot be
// trusted, and the exchange would fail on it or accept nonsense.
absl::Status CheckEnergies(const std::vector<runner::SegmentResult>& results,
                           int64_t round) {
  for (size_t r = 0; r < results.size(); ++r) {
    const runner::SegmentResult& result = results[r];
    const bool nan_reduced =
        std::any_of(result.reduced.begin(), result.reduced.end(),
                    [](double u) { return std::isnan(u); });
    if (!std::isfinite(result.potential_kj_mol) || nan_reduced) {
      return ReplicaFaultError(
          static_cast<int>(r),
          absl::StrCat("replica ", r, " reported a non-finite energy in round ",
                       round, " (potential ", result.potential_kj_mol,
                       " kJ/mol)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

void JobManager::Run(Record* record) {
  runner::RoundDriver* driver;
  JobExecutor* executor;
  std::shared_ptr<const v1::JobSpec> spec;
  bool resume;
  {
    absl::MutexLock lock(&mu_);
    driver = record->driver.get();
    executor = record->executor.get();
    spec = record->spec;
    resume = std::exchange(record->resume, false);
  }
  absl::Status status =
      resume ? Rollback(*record, *driver, *executor, *spec, std::nullopt)
             : NotifyRunning(*record, *spec, driver->round());
  const int frame_interval = spec->output().frame_interval();
  // The last journaled round's observers, watchers and checkpoint run while
  // the workers compute the next round, off the path from its last result
  // to the next orders; or before anything else when no orders go out.
  std::optional<FinishedRound> finishing;
  absl::Status finished = absl::OkStatus();
  auto finish = [&] {
    if (!finishing.has_value()) return;
    finished.Update(FinishRound(*record, *driver, *finishing));
    finishing.reset();
  };
  while (status.ok() && !driver->done()) {
    const bool with_positions =
        frame_interval > 0 && driver->round() % frame_interval == 0;
    const bool with_state = CheckpointDue(*spec, driver->round() + 1);
    absl::StatusOr<std::vector<runner::SegmentResult>> results =
        executor->RunSegmentsOverlapping(
            driver->Orders(with_positions, with_state), finish);
    finish();
    status = std::exchange(finished, absl::OkStatus());
    if (status.ok()) status = results.status();
    if (status.ok()) status = CheckEnergies(*results, driver->round());
    absl::StatusOr<const runner::RoundDriver::Completed*> completed =
        absl::InternalError("no round completed");
    if (status.ok()) {
      completed = driver->Complete(*results);
      status = completed.status();
    }
    if (status.ok()) {
      double elapsed_seconds = 0;
      absl::StatusOr<v1::Job> job =
          JournalRound(*record, *driver, **completed, elapsed_seconds);
      status = job.status();
      if (job.ok()) {
        finishing =
            FinishedRound{*completed,      *std::move(results), *std::move(job),
                          elapsed_seconds, with_positions,      with_state};
      }
    }
    if (!status.ok())
      status = HandleFailedRound(*record, *driver, *executor, *spec, status);
  }
  finish();
  if (status.ok()) status = finished;

  Locked lock(this);
  if (record->job.state() == v1::RUNNING) {
    if (shutting_down_) {
      service::LogLine(absl::StrCat("job ", record->job.job_id(),
                                    " interrupted: ", status.message()));
    } else {
      SetState(*record, status.ok() ? v1::SUCCEEDED : v1::FAILED,
               std::string(status.message()));
    }
  }
  // Frees the job's places (if Cancel has not already) and its memory: the
  // spec carries the whole System.
  record->executor.reset();
  record->driver.reset();
  record->spec.reset();
  StartQueuedLocked();
}

absl::Status JobManager::NotifyRunning(Record& record, const v1::JobSpec& spec,
                                       int64_t next_round) {
  v1::Job job;
  {
    absl::MutexLock lock(&mu_);
    job = record.job;
  }
  for (JobObserver* observer : observers_) {
    if (absl::Status status = observer->OnRunning(job, spec, next_round);
        !status.ok()) {
      return status;
    }
  }
  return absl::OkStatus();
}

absl::Status JobManager::HandleFailedRound(Record& record,
                                           runner::RoundDriver& driver,
                                           JobExecutor& executor,
                                           const v1::JobSpec& spec,
                                           const absl::Status& why) {
  if (!CallsForRollback(why)) return why;
  const std::optional<int> faulty = FaultyReplica(why);
  {
    absl::MutexLock lock(&mu_);
    if (shutting_down_ || record.job.state() != v1::RUNNING) return why;
    if (faulty.has_value() &&
        ++record.replica_restarts > max_replica_restarts_) {
      return absl::AbortedError(absl::StrCat(
          why.message(),
          "; no restart is left (the job's replicas may "
          "restart from a checkpoint at most ",
          max_replica_restarts_, " times, --max_replica_restarts)"));
    }
    if (!faulty.has_value()) {
      record.lost_in_round = std::max(record.lost_in_round, driver.round());
      if (++record.worker_losses > max_worker_losses_) {
        return absl::AbortedError(absl::StrCat(
            why.message(), "; the job lost workers holding its replicas ",
            record.worker_losses, " times without getting past round ",
            record.lost_in_round,
            ", so it fails rather than take more down: something in it may "
            "crash workers (an OpenMM fault, memory exhausted: see the "
            "workers' logs); --max_worker_losses=",
            max_worker_losses_));
      }
    }
  }
  if (faulty.has_value()) {
    for (JobObserver* observer : observers_) {
      observer->OnReplicaRestart(record.id);
    }
  }
  service::LogLine(
      absl::StrCat("job ", record.id,
                   " rolls back to its last checkpoint: ", why.message()));
  return Rollback(record, driver, executor, spec, faulty);
}

absl::Status JobManager::Rollback(Record& record, runner::RoundDriver& driver,
                                  JobExecutor& executor,
                                  const v1::JobSpec& spec,
                                  std::optional<int> faulty) {
  const std::string& job_id = record.id;
  int restarts;
  {
    absl::MutexLock lock(&mu_);
    restarts = record.replica_restarts;
  }
  absl::StatusOr<runner::Cut> cut =
      runner::RestoreLastCut(job_id, spec, driver.ladder().size(), *journal_,
                             checkpoints_, faulty, restarts);
  if (!cut.ok()) return cut.status();
  const int64_t round = cut->driver.round();
  if (absl::Status reloaded = executor.Reload(cut->starts); !reloaded.ok()) {
    return reloaded;
  }
  driver = std::move(cut->driver);
  {
    absl::MutexLock lock(&mu_);
    SetProgress(driver, /*ns_per_day=*/0, record.job);
    v1::JobEvent event;
    event.set_job_id(job_id);
    *event.mutable_snapshot() = record.job;
    Publish(record, std::move(event));
  }
  service::LogLine(absl::StrCat(
      "job ", job_id, " resumes at round ", round,
      cut->from_checkpoint ? " (its last checkpoint)" : " (no checkpoint yet)",
      faulty.has_value() ? absl::StrCat("; replica ", *faulty,
                                        " restarts with fresh velocities")
                         : ""));
  return NotifyRunning(record, spec, round);
}

bool JobManager::CheckpointDue(const v1::JobSpec& spec,
                               int64_t rounds_done) const {
  return checkpoints_ != nullptr && runner::CheckpointDue(spec, rounds_done);
}

absl::Status JobManager::WriteCheckpoint(
    const std::string& job_id, const runner::RoundDriver& driver,
    const runner::RoundDriver::Completed& completed,
    const std::vector<runner::SegmentResult>& results) {
  const absl::Time start = clock_->Now();
  absl::StatusOr<v1::Checkpoint> checkpoint =
      runner::CheckpointAfter(job_id, driver, completed, results);
  if (!checkpoint.ok()) return checkpoint.status();
  if (absl::Status saved =
          runner::SaveCheckpoint(*checkpoint, *journal_, *checkpoints_);
      !saved.ok()) {
    return saved;
  }
  for (JobObserver* observer : observers_) {
    observer->OnCheckpoint(job_id, driver.round(),
                           absl::ToDoubleSeconds(clock_->Now() - start));
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::Job> JobManager::JournalRound(
    Record& record, const runner::RoundDriver& driver,
    const runner::RoundDriver::Completed& completed, double& elapsed_seconds) {
  v1::Job job;
  {
    absl::MutexLock lock(&mu_);
    if (record.job.state() != v1::RUNNING) {
      return absl::CancelledError("the job is no longer running");
    }
    elapsed_seconds = absl::ToDoubleSeconds(clock_->Now() - record.started_at);
    SetProgress(driver,
                runner::NsPerDay(*record.spec, driver.ladder().size(),
                                 driver.round(), elapsed_seconds),
                record.job);
    record.job.set_workers(record.executor->workers());
    // Past the round it lost workers in: those losses no longer count.
    if (driver.round() > record.lost_in_round) record.worker_losses = 0;
    job = record.job;
  }
  if (absl::Status journaled = journal_->RecordRound(
          job.job_id(), completed.outcome, completed.potential_kj_mol);
      !journaled.ok()) {
    return journaled;
  }
  return job;
}

absl::Status JobManager::FinishRound(Record& record,
                                     const runner::RoundDriver& driver,
                                     FinishedRound& round) {
  const runner::RoundDriver::Completed& completed = *round.completed;
  const exchange::RoundOutcome& outcome = completed.outcome;
  const v1::Job& job = round.job;
  if (!observers_.empty()) {
    std::vector<std::vector<engine::Vec3>> positions;
    // Only the last round's states are read (the results' final_states/);
    // checkpoint rounds' are not copied for observers.
    const bool final_states =
        round.with_state && outcome.round + 1 == job.n_rounds();
    std::vector<std::string> states;
    // Moved, not copied (19 MB a round at 32 replicas x 25,000 atoms): the
    // checkpoint below reads only the states.
    for (runner::SegmentResult& result : round.results) {
      if (round.with_positions) {
        positions.push_back(std::move(result.positions_nm));
      }
      if (final_states) states.push_back(result.state);
    }
    const runner::RoundReport report{
        outcome,
        completed.potential_kj_mol,
        completed.kinetic_kj_mol,
        completed.reduced,
        driver.statistics(),
        completed.box_nm,
        round.with_positions ? &positions : nullptr,
        round.elapsed_seconds,
        final_states ? &states : nullptr,
        driver.ladder_versions().empty() ? nullptr : &driver.ladder_versions()};
    for (JobObserver* observer : observers_) {
      if (absl::Status status = observer->OnRound(job, report); !status.ok()) {
        return status;
      }
    }
  }

  v1::JobEvent event;
  event.set_job_id(job.job_id());
  v1::RoundEvent& event_round = *event.mutable_round();
  event_round.set_round(outcome.round);
  const std::vector<int>& rungs = outcome.after.rung_of_replica();
  event_round.mutable_rung_of_replica()->Assign(rungs.begin(), rungs.end());
  event_round.mutable_pair_attempts()->Assign(outcome.pair_attempts.begin(),
                                              outcome.pair_attempts.end());
  event_round.mutable_pair_accepts()->Assign(outcome.pair_accepts.begin(),
                                             outcome.pair_accepts.end());
  event_round.set_round_trips(job.round_trips());
  event_round.set_ns_per_day(job.ns_per_day());
  {
    absl::MutexLock lock(&mu_);
    if (record.job.state() != v1::RUNNING) {
      return absl::CancelledError("the job is no longer running");
    }
    Publish(record, std::move(event));
  }
  if (round.with_state) {
    if (absl::Status written =
            WriteCheckpoint(record.id, driver, completed, round.results);
        !written.ok()) {
      // The previous checkpoint still stands; a rollback goes there.
      service::LogLine(
          absl::StrCat("job ", record.id, ": no checkpoint at round ",
                       outcome.round + 1, ": ", written.message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace replex::coordinator
