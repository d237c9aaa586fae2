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

absl::Status CheckEnergies(const std::vector<runner::SegmentResult>& results,
                           int64_t round) {
  for (size_t r = 0; r < results.size(); ++r) {
    if (absl::Status finite =
            CheckFinite(static_cast<int>(r), results[r], round);
        !finite.ok()) {
      return finite;
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
  const absl::Status status =
      spec->exchange().mode() == v1::Exchange::ASYNCHRONOUS
          ? RunAsynchronous(*record, *driver, *executor, *spec, resume)
          : RunRounds(*record, *driver, *executor, *spec, resume);

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

absl::Status JobManager::RunRounds(Record& record, runner::RoundDriver& driver,
                                   JobExecutor& executor,
                                   const v1::JobSpec& spec, bool resume) {
  absl::Status status =
      resume ? Rollback(record, driver, executor, spec, std::nullopt)
             : NotifyRunning(record, spec, driver.round());
  const int frame_interval = spec.output().frame_interval();
  // The last journaled round's observers, watchers and checkpoint run while
  // the workers compute the next round, off the path from its last result
  // to the next orders; or before anything else when no orders go out.
  std::optional<FinishedRound> finishing;
  absl::Status finished = absl::OkStatus();
  auto finish = [&] {
    if (!finishing.has_value()) return;
    finished.Update(FinishRound(record, driver, *finishing));
    finishing.reset();
  };
  while (status.ok() && !driver.done()) {
    const bool with_positions =
        frame_interval > 0 && driver.round() % frame_interval == 0;
    const bool with_state = CheckpointDue(spec, driver.round() + 1);
    absl::StatusOr<std::vector<runner::SegmentResult>> results =
        executor.RunSegmentsOverlapping(
            driver.Orders(with_positions, with_state), finish);
    finish();
    status = std::exchange(finished, absl::OkStatus());
    if (status.ok()) status = results.status();
    if (status.ok()) status = CheckEnergies(*results, driver.round());
    absl::StatusOr<const runner::RoundDriver::Completed*> completed =
        absl::InternalError("no round completed");
    if (status.ok()) {
      completed = driver.Complete(*results);
      status = completed.status();
    }
    if (status.ok()) {
      double elapsed_seconds = 0;
      absl::StatusOr<v1::Job> job = JournalRound(
          record, driver, **completed, driver.round(), elapsed_seconds);
      status = job.status();
      if (job.ok()) {
        finishing =
            FinishedRound{*completed,      *std::move(results), *std::move(job),
                          elapsed_seconds, with_positions,      with_state};
      }
    }
    if (!status.ok())
      status = HandleFailedRound(record, driver, executor, spec, status);
  }
  finish();
  if (status.ok()) status = finished;
  return status;
}

absl::Status JobManager::NotifyRunning(Record& record, const v1::JobSpec& spec,
                                       int64_t next_round) {
  v1::Job job;
  {
    absl::MutexLock lock(&mu_);
    job = record.job;
    // The first start of this run (a resumed job's at its cut), not a
    // rollback: time lost to rollbacks counts against the rate.
    if (record.rounds_at_start < 0) {
      record.rounds_at_start = job.rounds_completed();
    }
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
                                           const absl::Status& why,
                                           runner::AsynchronousRun* from) {
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
  return Rollback(record, driver, executor, spec, faulty, from);
}

absl::Status JobManager::Rollback(Record& record, runner::RoundDriver& driver,
                                  JobExecutor& executor,
                                  const v1::JobSpec& spec,
                                  std::optional<int> faulty,
                                  runner::AsynchronousRun* from) {
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
  if (from != nullptr) *from = runner::AsynchronousRunAt(*cut);
  driver = std::move(cut->driver);
  {
    absl::MutexLock lock(&mu_);
    SetProgress(driver, /*ns_per_day=*/0, record.job);
    if (from != nullptr) {
      record.job.set_rounds_completed(runner::SegmentsFinished(*from) /
                                      driver.ladder().size());
    }
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

void JobManager::WriteCheckpoint(
    const absl::StatusOr<v1::Checkpoint>& checkpoint, const std::string& job_id,
    absl::Time start) {
  absl::Status saved = checkpoint.status();
  if (saved.ok()) {
    saved = runner::SaveCheckpoint(*checkpoint, *journal_, *checkpoints_);
  }
  if (!saved.ok()) {
    // The previous checkpoint still stands; a rollback goes there.
    service::LogLine(absl::StrCat("job ", job_id, ": no checkpoint at round ",
                                  checkpoint.ok() ? checkpoint->round() : -1,
                                  ": ", saved.message()));
    return;
  }
  for (JobObserver* observer : observers_) {
    observer->OnCheckpoint(job_id, checkpoint->round(),
                           absl::ToDoubleSeconds(clock_->Now() - start));
  }
}

absl::StatusOr<v1::Job> JobManager::JournalRound(
    Record& record, const runner::RoundDriver& driver,
    const runner::RoundDriver::Completed& completed, int64_t rounds_done,
    double& elapsed_seconds) {
  v1::Job job;
  {
    absl::MutexLock lock(&mu_);
    if (record.job.state() != v1::RUNNING) {
      return absl::CancelledError("the job is no longer running");
    }
    elapsed_seconds = absl::ToDoubleSeconds(clock_->Now() - record.started_at);
    SetProgress(driver,
                runner::NsPerDay(
                    *record.spec, driver.ladder().size(),
                    std::max<int64_t>(0, rounds_done - record.rounds_at_start),
                    elapsed_seconds),
                record.job);
    record.job.set_rounds_completed(rounds_done);
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
  runner::RoundReport report{
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
  report.ns_per_day = job.ns_per_day();
  if (absl::Status told = TellRound(record, job, report); !told.ok()) {
    return told;
  }
  if (round.with_state) {
    const absl::Time start = clock_->Now();
    WriteCheckpoint(
        runner::CheckpointAfter(record.id, driver, completed, round.results),
        record.id, start);
  }
  return absl::OkStatus();
}

absl::Status JobManager::TellRound(Record& record, const v1::Job& job,
                                   const runner::RoundReport& report) {
  for (JobObserver* observer : observers_) {
    if (absl::Status status = observer->OnRound(job, report); !status.ok()) {
      return status;
    }
  }
  const exchange::RoundOutcome& outcome = report.outcome;
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
  event_round.set_rounds_completed(job.rounds_completed());
  absl::MutexLock lock(&mu_);
  if (record.job.state() != v1::RUNNING) {
    return absl::CancelledError("the job is no longer running");
  }
  Publish(record, std::move(event));
  return absl::OkStatus();
}

absl::Status JobManager::RunAsynchronous(Record& record,
                                         runner::RoundDriver& driver,
                                         JobExecutor& executor,
                                         const v1::JobSpec& spec, bool resume) {
  runner::SegmentStream* const stream = executor.Stream();
  if (stream == nullptr) {
    return absl::UnimplementedError(
        "exchange.mode: this coordinator's replica pool cannot run "
        "asynchronous exchange; submit the job with exchange.mode: "
        "synchronous");
  }
  const int n = driver.ladder().size();
  runner::AsynchronousRun from;
  absl::Status status =
      resume ? Rollback(record, driver, executor, spec, std::nullopt, &from)
             : NotifyRunning(record, spec, driver.round());
  runner::AsynchronousOptions options;
  options.segments = int64_t{n} * spec.exchange().n_rounds();
  options.positions_every = spec.output().frame_interval();
  // Checkpoints come at barriers (no segment running, so every replica's
  // state can be read): every checkpoint_interval rounds' worth of segments
  // and at the end. So do moves off a draining worker, which cannot wait for
  // the next checkpoint: it leaves within its --shutdown_grace.
  const int64_t interval =
      checkpoints_ != nullptr ? int64_t{spec.checkpoint_interval()} * n : 0;
  int64_t checkpointed = 0;  // segments at the last checkpoint
  bool checkpoint_due = false;
  options.barrier_due = [&](int64_t finished) {
    checkpoint_due =
        interval > 0 && finished / interval > checkpointed / interval;
    return checkpoint_due || executor.HostDraining();
  };
  std::vector<std::vector<engine::Vec3>> positions(n);
  auto on_event = [&](const runner::ExchangeEvent& event) -> absl::Status {
    const runner::RoundDriver::Completed& completed = event.completed;
    const int64_t finished = runner::SegmentsFinished(event.run);
    double elapsed_seconds = 0;
    absl::StatusOr<v1::Job> job =
        JournalRound(record, driver, completed, finished / n, elapsed_seconds);
    if (!job.ok()) return job.status();
    const bool last = event.barrier && finished == options.segments;
    const bool checkpoint =
        checkpoints_ != nullptr && event.barrier && (checkpoint_due || last);
    if (event.barrier) checkpoint_due = false;
    const absl::Time checkpoint_start = clock_->Now();
    absl::StatusOr<std::vector<std::string>> states =
        std::vector<std::string>();
    if (checkpoint) states = stream->States();
    // The final states are the results'; without them the job fails.
    if (last && !states.ok()) return states.status();
    runner::RoundReport report =
        runner::EventReport(event, driver, elapsed_seconds,
                            options.positions_every > 0 ? &positions : nullptr,
                            last && checkpoint ? &*states : nullptr);
    report.ns_per_day = job->ns_per_day();
    if (absl::Status told = TellRound(record, *job, report); !told.ok()) {
      return told;
    }
    if (!checkpoint) return absl::OkStatus();
    // Failed or not, the next is due an interval on (as in `replex run`).
    checkpointed = finished;
    WriteCheckpoint(
        states.ok()
            ? absl::StatusOr<v1::Checkpoint>(runner::CheckpointAtBarrier(
                  record.id, driver, event.run, *std::move(states)))
            : states.status(),
        record.id, checkpoint_start);
    return absl::OkStatus();
  };
  while (status.ok()) {
    options.from = from;
    checkpointed = runner::SegmentsFinished(from);
    absl::StatusOr<runner::AsynchronousRun> run =
        runner::RunAsynchronously(driver, *stream, options, on_event);
    if (run.ok()) break;
    status =
        HandleFailedRound(record, driver, executor, spec, run.status(), &from);
  }
  return status;
}

}  // namespace replex::coordinator
