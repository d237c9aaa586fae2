#include "lib/runner/cut.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "lib/exchange/seeds.h"
#include "lib/service/process.h"

namespace replex::runner {

absl::StatusOr<Cut> RestoreCut(const std::string& job_id,
                               const v1::JobSpec& spec,
                               const std::optional<v1::Checkpoint>& checkpoint,
                               const std::vector<store::JournaledRound>& rounds,
                               std::optional<int> faulty, int restarts) {
  const int64_t round = checkpoint.has_value() ? checkpoint->round() : 0;
  absl::StatusOr<RoundDriver> driver = RoundDriver::Create(spec);
  if (!driver.ok()) return driver.status();
  std::vector<exchange::RoundOutcome> outcomes;
  outcomes.reserve(rounds.size());
  for (const store::JournaledRound& journaled : rounds) {
    outcomes.push_back(journaled.outcome);
  }
  if (absl::Status replayed = driver->Replay(outcomes); !replayed.ok()) {
    return replayed;
  }
  const int n = driver->ladder().size();
  const std::vector<int>& rungs = driver->permutation().rung_of_replica();
  if (driver->round() != round ||
      (checkpoint.has_value() &&
       !std::equal(checkpoint->rung_of_replica().begin(),
                   checkpoint->rung_of_replica().end(), rungs.begin(),
                   rungs.end()))) {
    return absl::DataLossError(absl::StrCat(
        "job ", job_id, ": the journal's exchange log reaches round ",
        driver->round(), " and does not match the checkpoint at round ",
        round));
  }
  if (checkpoint.has_value() &&
      (checkpoint->states_size() != n || checkpoint->state_rung_size() != n)) {
    return absl::DataLossError(absl::StrCat(
        "job ", job_id, ": the checkpoint at round ", round, " holds ",
        checkpoint->states_size(), " states for ", n, " replicas"));
  }
  for (int r = 0; checkpoint.has_value() && r < n; ++r) {
    if (checkpoint->state_rung(r) < 0 || checkpoint->state_rung(r) >= n) {
      return absl::DataLossError(absl::StrCat(
          "job ", job_id, ": the checkpoint at round ", round, " says replica ",
          r, "'s state was made at rung ", checkpoint->state_rung(r),
          ", outside the ladder's ", n));
    }
  }

  Cut cut{*std::move(driver), std::vector<ReplicaStart>(n),
          checkpoint.has_value(), std::vector<int64_t>(n, 0),
          std::vector<int64_t>(n, 0)};
  if (checkpoint.has_value() && checkpoint->segments_by_replica_size() != 0) {
    if (checkpoint->segments_by_replica_size() != n ||
        checkpoint->segments_by_rung_size() != n) {
      return absl::DataLossError(
          absl::StrCat("job ", job_id, ": the checkpoint at round ", round,
                       " counts ", checkpoint->segments_by_replica_size(),
                       " replicas' and ", checkpoint->segments_by_rung_size(),
                       " rungs' segments for ", n, " replicas"));
    }
    cut.segments_by_replica.assign(checkpoint->segments_by_replica().begin(),
                                   checkpoint->segments_by_replica().end());
    cut.segments_by_rung.assign(checkpoint->segments_by_rung().begin(),
                                checkpoint->segments_by_rung().end());
  }
  for (int r = 0; r < n; ++r) {
    ReplicaStart& start = cut.starts[r];
    start.rung = checkpoint.has_value() ? checkpoint->state_rung(r) : r;
    // The state was made in the round before the cut's.
    start.temperature_k = cut.driver.TemperatureAt(round - 1, start.rung);
    if (checkpoint.has_value()) start.state = checkpoint->states(r);
    if (faulty == r) {
      start.velocity_seed =
          exchange::RestartVelocitySeed(spec.seed(), r, restarts);
      start.redraw_velocities = !start.state.empty();
    }
  }
  return cut;
}

namespace {

// An asynchronous run's counts: none, or a count per replica and per rung,
// none negative, both summing to the segments run.
bool SegmentCountsFit(const v1::Checkpoint& checkpoint) {
  const int n = checkpoint.states_size();
  const int replicas = checkpoint.segments_by_replica_size();
  const int rungs = checkpoint.segments_by_rung_size();
  if (replicas == 0 && rungs == 0) return true;
  if (replicas != n || rungs != n) return false;
  int64_t by_replica = 0, by_rung = 0;
  for (int i = 0; i < n; ++i) {
    if (checkpoint.segments_by_replica(i) < 0 ||
        checkpoint.segments_by_rung(i) < 0) {
      return false;
    }
    by_replica += checkpoint.segments_by_replica(i);
    by_rung += checkpoint.segments_by_rung(i);
  }
  return by_replica == by_rung;
}

}  // namespace

absl::StatusOr<std::optional<v1::Checkpoint>> NewestUsableCheckpoint(
    const std::string& job_id, int n_replicas, store::Journal& journal,
    store::CheckpointStore* store) {
  if (store == nullptr) return std::nullopt;
  absl::StatusOr<std::vector<store::CheckpointRecord>> recorded =
      journal.Checkpoints(job_id);
  if (!recorded.ok()) return recorded.status();
  for (auto it = recorded->rbegin(); it != recorded->rend(); ++it) {
    absl::StatusOr<v1::Checkpoint> read = store->Read(it->location);
    if (read.ok() && read->round() == it->round &&
        read->states_size() == n_replicas &&
        read->state_rung_size() == n_replicas && SegmentCountsFit(*read)) {
      return std::optional<v1::Checkpoint>(*std::move(read));
    }
    service::LogLine(absl::StrCat(
        "job ", job_id, ": skipping checkpoint ", it->location, ": ",
        read.ok() ? "it does not fit the job" : read.status().message()));
  }
  return std::nullopt;
}

absl::StatusOr<Cut> RestoreLastCut(const std::string& job_id,
                                   const v1::JobSpec& spec, int n_replicas,
                                   store::Journal& journal,
                                   store::CheckpointStore* store,
                                   std::optional<int> faulty, int restarts) {
  absl::StatusOr<std::optional<v1::Checkpoint>> checkpoint =
      NewestUsableCheckpoint(job_id, n_replicas, journal, store);
  if (!checkpoint.ok()) return checkpoint.status();
  const int64_t round = checkpoint->has_value() ? (*checkpoint)->round() : 0;
  absl::StatusOr<std::vector<store::JournaledRound>> rounds =
      journal.Rounds(job_id, round);
  if (!rounds.ok()) return rounds.status();
  absl::StatusOr<Cut> cut =
      RestoreCut(job_id, spec, *checkpoint, *rounds, faulty, restarts);
  if (!cut.ok()) return cut.status();
  if (absl::Status truncated = journal.Truncate(job_id, round);
      !truncated.ok()) {
    return truncated;
  }
  return cut;
}

bool CheckpointDue(const v1::JobSpec& spec, int64_t rounds_done) {
  const int interval = spec.checkpoint_interval();
  return rounds_done == spec.exchange().n_rounds() ||
         (interval > 0 && rounds_done % interval == 0);
}

v1::Checkpoint CheckpointAt(const std::string& job_id,
                            const RoundDriver& driver,
                            const std::vector<int>& state_rung,
                            std::vector<std::string> states) {
  v1::Checkpoint checkpoint;
  checkpoint.set_job_id(job_id);
  checkpoint.set_round(driver.round());
  const std::vector<int>& rungs = driver.permutation().rung_of_replica();
  checkpoint.mutable_rung_of_replica()->Assign(rungs.begin(), rungs.end());
  checkpoint.mutable_state_rung()->Assign(state_rung.begin(), state_rung.end());
  for (std::string& state : states) checkpoint.add_states(std::move(state));
  return checkpoint;
}

v1::Checkpoint CheckpointAtBarrier(const std::string& job_id,
                                   const RoundDriver& driver,
                                   const AsynchronousRun& run,
                                   std::vector<std::string> states) {
  v1::Checkpoint checkpoint =
      CheckpointAt(job_id, driver, run.state_rung, std::move(states));
  checkpoint.mutable_segments_by_replica()->Assign(
      run.segments_by_replica.begin(), run.segments_by_replica.end());
  checkpoint.mutable_segments_by_rung()->Assign(run.segments_by_rung.begin(),
                                                run.segments_by_rung.end());
  return checkpoint;
}

AsynchronousRun AsynchronousRunAt(const Cut& cut) {
  AsynchronousRun run;
  run.events = cut.driver.round();
  run.segments_by_replica = cut.segments_by_replica;
  run.segments_by_rung = cut.segments_by_rung;
  for (const ReplicaStart& start : cut.starts) {
    run.state_rung.push_back(start.rung);
  }
  return run;
}

absl::StatusOr<v1::Checkpoint> CheckpointAfter(
    const std::string& job_id, const RoundDriver& driver,
    const RoundDriver::Completed& completed,
    const std::vector<SegmentResult>& results) {
  std::vector<int> state_rung;
  std::vector<std::string> states;
  for (size_t r = 0; r < results.size(); ++r) {
    if (results[r].state.empty()) {
      return absl::DataLossError(
          absl::StrCat("replica ", r, " came back without its state"));
    }
    state_rung.push_back(completed.outcome.before.rung_of_replica(r));
    states.push_back(results[r].state);
  }
  return CheckpointAt(job_id, driver, state_rung, std::move(states));
}

absl::Status SaveCheckpoint(const v1::Checkpoint& checkpoint,
                            store::Journal& journal,
                            store::CheckpointStore& store) {
  const std::string& job_id = checkpoint.job_id();
  absl::StatusOr<std::string> location = store.Write(checkpoint);
  if (!location.ok()) return location.status();
  if (absl::Status recorded =
          journal.RecordCheckpoint(job_id, {checkpoint.round(), *location});
      !recorded.ok()) {
    return recorded;
  }
  absl::StatusOr<std::vector<store::CheckpointRecord>> all =
      journal.Checkpoints(job_id);
  if (!all.ok()) return all.status();
  for (size_t i = 0; i + 2 < all->size(); ++i) {
    if (journal.ForgetCheckpoint(job_id, (*all)[i].round).ok()) {
      store.Remove((*all)[i].location);
    }
  }
  return absl::OkStatus();
}

}  // namespace replex::runner
