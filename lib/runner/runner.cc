#include "lib/runner/runner.h"

#include <algorithm>
#include <memory>
#include <numeric>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "lib/exchange/seeds.h"
#include "lib/runner/asynchronous.h"
#include "lib/runner/cut.h"
#include "lib/runner/driver.h"
#include "lib/runner/local_executor.h"
#include "lib/service/process.h"
#include "lib/spec/spec.h"

namespace replex::runner {

namespace {

// The cut a resumed run starts from (RestoreLastCut), with velocity seeds
// for its restored replicas.
absl::StatusOr<Cut> ResumeCut(const v1::JobSpec& spec, int n_replicas,
                              const RunDurability& durability) {
  absl::StatusOr<Cut> cut =
      RestoreLastCut(durability.job_id, spec, n_replicas, *durability.journal,
                     durability.checkpoints, std::nullopt, 0);
  if (!cut.ok()) return cut.status();
  const int64_t round = cut->driver.round();
  // A restored replica's velocities come from its state; its seed starts a
  // CPU or GPU Context's noise stream, fresh per cut so that no resume
  // replays another's random forces (Reference draws from segment seeds).
  for (int r = 0; r < n_replicas; ++r) {
    ReplicaStart& start = cut->starts[r];
    if (!start.state.empty() && !start.velocity_seed.has_value()) {
      start.velocity_seed = exchange::MovedVelocitySeed(spec.seed(), r, round);
    }
  }
  return cut;
}

}  // namespace

absl::StatusOr<RunResult> RunAsynchronousOn(
    const v1::JobSpec& spec, const RunOptions& options, RoundDriver& driver,
    SegmentStream& stream, absl::Time start, const AsynchronousRun& from) {
  const int n = driver.ladder().size();
  const RunDurability& durability = options.durability;
  const bool durable =
      durability.journal != nullptr && durability.checkpoints != nullptr;
  if (options.on_start) {
    if (absl::Status started = options.on_start(driver.round());
        !started.ok()) {
      return started;
    }
  }
  AsynchronousOptions asynchronous;
  asynchronous.segments = int64_t{n} * spec.exchange().n_rounds();
  asynchronous.positions_every = options.positions_every;
  asynchronous.from = from;
  // Run before this call (a resumed run's).
  const int64_t first_segments = SegmentsFinished(from);
  // Checkpoints come at barriers: every checkpoint_interval rounds' worth of
  // segments, after checkpoint_every, on a stop and at the end.
  const int64_t interval = int64_t{spec.checkpoint_interval()} * n;
  int64_t checkpointed = first_segments;  // segments at the last checkpoint
  absl::Time last_checkpoint = start;
  bool stopping = false;
  bool checkpoint_due = false;
  asynchronous.barrier_due = [&](int64_t finished) {
    checkpoint_due =
        durable &&
        (stopping ||
         (interval > 0 && finished / interval > checkpointed / interval) ||
         (durability.checkpoint_every > absl::ZeroDuration() &&
          absl::Now() - last_checkpoint >= durability.checkpoint_every));
    return checkpoint_due;
  };
  std::vector<std::vector<engine::Vec3>> positions(n);
  // When each replica last came back, and the longest it took between two
  // returns (a segment and its wait): a stop's drain waits for the slowest
  // running segment, so --walltime keeps that much in hand, not the mean.
  std::vector<absl::Time> returned(n, start);
  double slowest = 0;
  absl::StatusOr<AsynchronousRun> run = RunAsynchronously(
      driver, stream, asynchronous, [&](const ExchangeEvent& event) {
        const absl::Time now = absl::Now();
        const double elapsed = absl::ToDoubleSeconds(now - start);
        for (int replica : event.replicas) {
          slowest =
              std::max(slowest, absl::ToDoubleSeconds(now - returned[replica]));
          returned[replica] = now;
        }
        const int64_t finished = SegmentsFinished(event.run);
        const RoundDriver::Completed& completed = event.completed;
        const double mean_round =
            elapsed * n / std::max<int64_t>(1, finished - first_segments);
        if (!stopping && options.should_stop &&
            options.should_stop(std::max(mean_round, slowest))) {
          if (!durable) {
            return absl::CancelledError(absl::StrCat(
                "stopped at exchange event ", completed.outcome.round + 1,
                " (no results directory: nothing to resume from)"));
          }
          stopping = true;
        }
        if (durable) {
          if (absl::Status journaled = durability.journal->RecordRound(
                  durability.job_id, completed.outcome,
                  completed.potential_kj_mol);
              !journaled.ok()) {
            return journaled;
          }
        }
        const bool last = event.barrier && finished == asynchronous.segments;
        const bool checkpoint =
            durable && event.barrier && (checkpoint_due || stopping || last);
        if (event.barrier) checkpoint_due = false;
        absl::StatusOr<std::vector<std::string>> states =
            std::vector<std::string>();
        if (checkpoint || (last && options.on_round)) states = stream.States();
        // The final states are the results'; without them the run fails.
        if (last && !states.ok()) return states.status();
        if (options.on_round) {
          RoundReport report =
              EventReport(event, driver, elapsed,
                          options.positions_every > 0 ? &positions : nullptr,
                          last ? &*states : nullptr);
          report.ns_per_day =
              NsPerDay(spec, 1, finished - first_segments, elapsed);
          if (absl::Status written = options.on_round(report); !written.ok()) {
            return written;
          }
        }
        if (!checkpoint) return absl::OkStatus();
        // As in synchronous mode, the event's rows are written before its
        // checkpoint. Failed or not, the next is due an interval on: one
        // that cannot be made (a full disk) must not make every event a
        // barrier.
        checkpointed = finished;
        last_checkpoint = absl::Now();
        absl::Status saved = states.status();
        if (saved.ok()) {
          const v1::Checkpoint cut = CheckpointAtBarrier(
              durability.job_id, driver, event.run, *std::move(states));
          saved =
              SaveCheckpoint(cut, *durability.journal, *durability.checkpoints);
        }
        if (!saved.ok()) {
          // The previous cut still stands; a resume goes there.
          service::LogLine(absl::StrCat("no checkpoint at exchange event ",
                                        driver.round(), ": ", saved.message()));
        }
        if (stopping && !last) {
          return service::ResumableError(absl::StrCat(
              "stopped at exchange event ", driver.round(), " (", finished,
              " of ", asynchronous.segments, " segments), ",
              saved.ok() ? "at a checkpoint"
                         : "the previous checkpoint standing"));
        }
        return absl::OkStatus();
      });
  if (!run.ok()) return run.status();
  const double wall = absl::ToDoubleSeconds(absl::Now() - start);
  // The MD of n_rounds synchronous rounds, shared unevenly among replicas.
  RunResult result = Summarize(spec, driver.statistics(), driver.permutation(),
                               spec.exchange().n_rounds(), wall);
  result.exchange_events = run->events;
  result.segments_by_replica = run->segments_by_replica;
  const int64_t ran = SegmentsFinished(*run) - first_segments;
  result.ns_per_day = NsPerDay(spec, 1, ran, wall);
  return result;
}

absl::StatusOr<RunResult> RunJob(const v1::JobSpec& spec,
                                 const RunOptions& options) {
  if (absl::Status valid = spec::Validate(spec); !valid.ok()) return valid;
  absl::StatusOr<RoundDriver> driver = RoundDriver::Create(spec);
  if (!driver.ok()) return driver.status();
  const int n = driver->ladder().size();
  const RunDurability& durability = options.durability;
  const bool durable =
      durability.journal != nullptr && durability.checkpoints != nullptr;
  std::vector<ReplicaStart> starts;
  AsynchronousRun from;
  if (durability.resume) {
    if (!durable) {
      return absl::FailedPreconditionError(
          "resuming needs the run's journal and checkpoints");
    }
    absl::StatusOr<Cut> cut = ResumeCut(spec, n, durability);
    if (!cut.ok()) return cut.status();
    from = AsynchronousRunAt(*cut);
    driver = std::move(cut->driver);
    starts = std::move(cut->starts);
  }
  if (spec.exchange().mode() == v1::Exchange::ASYNCHRONOUS) {
    const absl::Time start = absl::Now();
    absl::StatusOr<std::unique_ptr<LocalExecutor>> executor =
        LocalExecutor::Create(spec, driver->ladder(), options.threads,
                              options.pin_threads, starts);
    if (!executor.ok()) return executor.status();
    return RunAsynchronousOn(spec, options, *driver, **executor, start, from);
  }
  const int64_t first_round = driver->round();
  if (options.on_start) {
    if (absl::Status started = options.on_start(first_round); !started.ok()) {
      return started;
    }
  }
  const absl::Time start = absl::Now();
  absl::StatusOr<std::unique_ptr<LocalExecutor>> executor =
      LocalExecutor::Create(spec, driver->ladder(), options.threads,
                            options.pin_threads, starts);
  if (!executor.ok()) return executor.status();

  std::vector<std::vector<engine::Vec3>> positions(n);
  std::vector<std::string> states(n);
  absl::Time last_checkpoint = start;
  // A round's report for on_round (its results rows, frames, progress),
  // kept until the next round's segments are out and written while they
  // compute; at once when a checkpoint follows the round, whose rows must be
  // written before it, and after the last round.
  std::optional<RoundReport> pending;
  auto write_pending = [&]() -> absl::Status {
    if (!pending.has_value()) return absl::OkStatus();
    absl::Status written = options.on_round(*pending);
    pending.reset();
    return written;
  };
  while (!driver->done()) {
    const int64_t ran = driver->round() - first_round;
    const bool stopping =
        options.should_stop &&
        options.should_stop(
            ran > 0 ? absl::ToDoubleSeconds(absl::Now() - start) / ran : 0);
    if (stopping && !durable) {
      if (absl::Status status = write_pending(); !status.ok()) return status;
      return absl::CancelledError(
          absl::StrCat("stopped at round ", driver->round(),
                       " (no results directory: nothing to resume from)"));
    }
    const bool want_positions = options.positions_every > 0 &&
                                driver->round() % options.positions_every == 0;
    // The final states go into the results (final_states/); a checkpoint
    // holds every replica's.
    const bool final_round = driver->round() + 1 == spec.exchange().n_rounds();
    const bool checkpoint =
        durable &&
        (stopping || CheckpointDue(spec, driver->round() + 1) ||
         (durability.checkpoint_every > absl::ZeroDuration() &&
          absl::Now() - last_checkpoint >= durability.checkpoint_every));
    absl::Status written;  // the last round's, while these segments ran
    absl::StatusOr<std::vector<SegmentResult>> results =
        (*executor)->RunSegmentsOverlapping(
            driver->Orders(want_positions, final_round || checkpoint),
            [&] { written = write_pending(); });
    if (!written.ok()) return written;
    if (!results.ok()) return results.status();
    absl::StatusOr<const RoundDriver::Completed*> round =
        driver->Complete(*results);
    if (!round.ok()) return round.status();
    if (durable) {
      if (absl::Status journaled = durability.journal->RecordRound(
              durability.job_id, (*round)->outcome, (*round)->potential_kj_mol);
          !journaled.ok()) {
        return journaled;
      }
    }
    // The round's results rows are written before its checkpoint, as the
    // coordinator does: killed between the two, the run resumes from the
    // previous checkpoint, which drops those rows. The other order lost the
    // round's rows for good when the kill fell between them.
    if (options.on_round) {
      for (int i = 0; i < n; ++i) {
        if (want_positions)
          positions[i] = std::move((*results)[i].positions_nm);
        // A copy: the checkpoint below needs the states too.
        if (final_round) states[i] = (*results)[i].state;
      }
      // What it refers to stays as it is until the next Complete.
      pending.emplace(RoundReport{
          (*round)->outcome, (*round)->potential_kj_mol,
          (*round)->kinetic_kj_mol, (*round)->reduced, driver->statistics(),
          (*round)->box_nm, want_positions ? &positions : nullptr,
          absl::ToDoubleSeconds(absl::Now() - start),
          final_round ? &states : nullptr,
          driver->ladder_versions().empty() ? nullptr
                                            : &driver->ladder_versions()});
      pending->ns_per_day = NsPerDay(spec, n, driver->round() - first_round,
                                     pending->elapsed_seconds);
      if (checkpoint || driver->done()) {
        if (absl::Status status = write_pending(); !status.ok()) return status;
      }
    }
    if (checkpoint) {
      absl::StatusOr<v1::Checkpoint> cut =
          CheckpointAfter(durability.job_id, *driver, **round, *results);
      if (absl::Status saved = cut.ok()
                                   ? SaveCheckpoint(*cut, *durability.journal,
                                                    *durability.checkpoints)
                                   : cut.status();
          saved.ok()) {
        last_checkpoint = absl::Now();
      } else {
        // The previous cut still stands; a resume goes there.
        service::LogLine(absl::StrCat("no checkpoint at round ",
                                      driver->round(), ": ", saved.message()));
      }
    }
    if (stopping && !driver->done()) {
      return service::ResumableError(absl::StrCat(
          "stopped at round ", driver->round(), ", at a checkpoint"));
    }
  }
  const double wall = absl::ToDoubleSeconds(absl::Now() - start);
  RunResult result = Summarize(spec, driver->statistics(),
                               driver->permutation(), driver->round(), wall);
  result.ns_per_day = NsPerDay(spec, n, driver->round() - first_round, wall);
  return result;
}

}  // namespace replex::runner
