// Where a job goes on after a rollback (a lost worker, a failed replica, a
// coordinator restart): its last consistent cut. RestoreCut is pure: it
// rebuilds the exchange state at the cut from the journaled rounds and says
// where each replica starts, so rollback is tested without workers or files.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "coordinator/replica_pool.h"
#include "lib/runner/driver.h"
#include "lib/store/checkpoint_store.h"
#include "lib/store/journal.h"
#include "replex/v1/job.pb.h"
#include "replex/v1/worker.pb.h"

namespace replex::coordinator {

struct Cut {
  // At the cut's round, with the permutation and statistics of the rounds
  // before it.
  runner::RoundDriver driver;
  // Per replica: its state and rung at the cut, and its velocity seed.
  std::vector<JobExecutor::ReplicaStart> starts;
  bool from_checkpoint = false;
};

// The cut at `checkpoint` (round 0, the initial coordinates, when there is
// none), given the job's journaled rounds before it. Replica `faulty`
// restarts with fresh velocities, drawn from a seed of its restart count
// `restarts` so that it does not replay the trajectory that failed.
// DATA_LOSS when the rounds do not lead to the checkpoint's permutation.
absl::StatusOr<Cut> RestoreCut(const std::string& job_id,
                               const v1::JobSpec& spec,
                               const std::optional<v1::Checkpoint>& checkpoint,
                               const std::vector<store::JournaledRound>& rounds,
                               std::optional<int> faulty, int restarts);

// The newest checkpoint of the job that the journal records and `store`
// reads back whole for `n_replicas` replicas; none when there is none (or no
// store). Unreadable ones are skipped with a log line: an older cut is
// better than none.
absl::StatusOr<std::optional<v1::Checkpoint>> NewestUsableCheckpoint(
    const std::string& job_id, int n_replicas, store::Journal& journal,
    store::CheckpointStore* store);

}  // namespace replex::coordinator
