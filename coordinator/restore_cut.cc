#include "coordinator/restore_cut.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "lib/exchange/seeds.h"
#include "lib/service/process.h"

namespace replex::coordinator {
absl::StatusOr<Cut> RestoreCut(const std::string& job_id,
                               const v1::JobSpec& spec,
                               const std::optional<v1::Checkpoint>& checkpoint,
                               const std::vector<store::JournaledRound>& rounds,
                               std::optional<int> faulty, int restarts) {
  const int64_t round = checkpoint.has_value() ? checkpoint->round() : 0;
  absl::StatusOr<runner::RoundDriver> driver =
      runner::RoundDriver::Create(spec);
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

  Cut cut{*std::move(driver), std::vector<JobExecutor::ReplicaStart>(n),
          checkpoint.has_value()};
  for (int r = 0; r < n; ++r) {
    JobExecutor::ReplicaStart& start = cut.starts[r];
    start.rung = checkpoint.has_value() ? checkpoint->state_rung(r) : r;
    if (checkpoint.has_value()) start.state = checkpoint->states(r);
    if (faulty == r) {
      start.velocity_seed =
          exchange::RestartVelocitySeed(spec.seed(), r, restarts);
      start.redraw_velocities = !start.state.empty();
    }
  }
  return cut;
}

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
        read->state_rung_size() == n_replicas) {
      return std::optional<v1::Checkpoint>(*std::move(read));
    }
    service::LogLine(absl::StrCat(
        "job ", job_id, ": skipping checkpoint ", it->location, ": ",
        read.ok() ? "it does not fit the job" : read.status().message()));
  }
  return std::nullopt;
}

}  // namespace replex::coordinator
