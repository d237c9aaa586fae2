// Where a job goes on after an interruption (a lost worker, a failed replica,
// a coordinator restart, a killed `replex run`): its last consistent cut, and
// how cuts are made. RestoreCut is pure: it rebuilds the exchange state at
// the cut from the journaled rounds and says where each replica starts, so
// rollback is tested without workers or files. Both the coordinator and
// embedded mode use these.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/runner/asynchronous.h"
#include "lib/runner/driver.h"
#include "lib/store/checkpoint_store.h"
#include "lib/store/journal.h"
#include "replex/v1/job.pb.h"
#include "replex/v1/worker.pb.h"

namespace replex::runner {

// Where a replica starts again at a cut.
struct ReplicaStart {
  std::string state;  // engine::PortableState bytes; empty: initial coords
  int rung = 0;       // the rung `state` was made at
  // An adaptive ladder: the temperature `state` was made at (0: the rung's
  // in the spec).
  double temperature_k = 0;
  // Velocities for a replica started without state, or redrawn for one
  // with state when `redraw_velocities`; unset: the job's usual seed.
  std::optional<uint64_t> velocity_seed;
  bool redraw_velocities = false;
};

struct Cut {
  // At the cut's round, with the permutation and statistics of the rounds
  // before it.
  RoundDriver driver;
  // Per replica: its state and rung at the cut, and its velocity seed.
  std::vector<ReplicaStart> starts;
  bool from_checkpoint = false;
  // Asynchronous exchange: per replica, the segments it finished by the
  // cut, and per rung the segments run at it (zeros at round 0).
  std::vector<int64_t> segments_by_replica;
  std::vector<int64_t> segments_by_rung;
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

// Goes back to the job's last consistent cut: its newest usable checkpoint
// (round 0 without one), with the rounds journaled before it replayed
// (RestoreCut) and those from it on forgotten by the journal. The cut's
// round is its driver's.
absl::StatusOr<Cut> RestoreLastCut(const std::string& job_id,
                                   const v1::JobSpec& spec, int n_replicas,
                                   store::Journal& journal,
                                   store::CheckpointStore* store,
                                   std::optional<int> faulty, int restarts);

// Whether the round that completes `rounds_done` rounds is checkpointed:
// every checkpoint_interval rounds (0: none) and after the last.
bool CheckpointDue(const v1::JobSpec& spec, int64_t rounds_done);

// The cut at `driver`'s round: its permutation, and per replica its state
// (engine::PortableState bytes) and the rung that state was made at.
v1::Checkpoint CheckpointAt(const std::string& job_id,
                            const RoundDriver& driver,
                            const std::vector<int>& state_rung,
                            std::vector<std::string> states);

// Asynchronous exchange: CheckpointAt a barrier, with every replica's and
// rung's segment count so far (`run`).
v1::Checkpoint CheckpointAtBarrier(const std::string& job_id,
                                   const RoundDriver& driver,
                                   const AsynchronousRun& run,
                                   std::vector<std::string> states);

// Where an asynchronous run resumed at `cut` goes on: its counts, and each
// replica's state rung.
AsynchronousRun AsynchronousRunAt(const Cut& cut);

// CheckpointAt after the round `driver` has just completed, whose `results`
// carry every replica's state; DATA_LOSS naming a replica without one.
absl::StatusOr<v1::Checkpoint> CheckpointAfter(
    const std::string& job_id, const RoundDriver& driver,
    const RoundDriver::Completed& completed,
    const std::vector<SegmentResult>& results);

// Writes `checkpoint` to `store`, records it in `journal`, and forgets all
// but the job's two latest (so that an unreadable newest file still leaves
// a cut).
absl::Status SaveCheckpoint(const v1::Checkpoint& checkpoint,
                            store::Journal& journal,
                            store::CheckpointStore& store);

}  // namespace replex::runner
