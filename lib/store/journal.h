// The coordinator's durable record: jobs (spec, state, last snapshot), every
// job's exchange log (one row per completed round), its checkpoints (the
// consistent cuts it can resume from) and the incarnation counter that keeps
// epochs issued after a restart above those issued before.
//
// Two implementations: SqliteJournal (a file in WAL mode; production) and
// InMemoryJournal (tests, and a coordinator run without durability).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/exchange/scheme.h"
#include "replex/v1/job.pb.h"
#include "replex/v1/job_service.pb.h"

namespace replex::store {

// One journaled round: what RoundDriver::Replay needs (round, after, pair
// counts; `before` is left identity) and the replicas' potential energies.
struct JournaledRound {
  exchange::RoundOutcome outcome;
  std::vector<double> potential_kj_mol;  // by replica
};

struct JournaledJob {
  v1::Job job;  // the last snapshot journaled
  // Unfinished jobs only: the journal keeps every job's spec (an ended job
  // can be extended), but Jobs() leaves ended ones' out, as they can be
  // large (the System) and only Spec() reads them.
  std::optional<v1::JobSpec> spec;
  int64_t seq = 0;  // submission order
};

struct CheckpointRecord {
  int64_t round = 0;  // rounds completed at the cut
  // Where the checkpoint store keeps it (CheckpointStore::Write's answer).
  std::string location;
};

// Implementations are thread-safe, and every write is atomic: after a crash
// the journal holds each write whole or not at all, in order.
class Journal {
 public:
  virtual ~Journal() = default;

  // Counts coordinator starts: 1 for the first, one more for each later.
  virtual absl::StatusOr<int64_t> NextIncarnation() = 0;

  // ALREADY_EXISTS if a job with this id is there.
  virtual absl::Status AddJob(const v1::Job& job, const v1::JobSpec& spec,
                              int64_t seq) = 0;
  // Stores the job's snapshot (its spec stays).
  virtual absl::Status UpdateJob(const v1::Job& job) = 0;
  // Every job, in submission order, with the specs of unfinished ones.
  virtual absl::StatusOr<std::vector<JournaledJob>> Jobs() = 0;
  // The job's spec as submitted. NOT_FOUND for an unknown job; DATA_LOSS
  // when the journal no longer holds it (journals written before ExtendJob
  // existed dropped an ended job's spec).
  virtual absl::StatusOr<v1::JobSpec> Spec(const std::string& job_id) = 0;

  // Appends a round to the job's exchange log. ALREADY_EXISTS if the round
  // is there: a round is never recorded twice.
  virtual absl::Status RecordRound(
      const std::string& job_id, const exchange::RoundOutcome& outcome,
      const std::vector<double>& potential_kj_mol) = 0;
  // The job's rounds below `end_round`, in order.
  virtual absl::StatusOr<std::vector<JournaledRound>> Rounds(
      const std::string& job_id, int64_t end_round) = 0;

  // Records (or replaces) the job's checkpoint at checkpoint.round.
  virtual absl::Status RecordCheckpoint(const std::string& job_id,
                                        const CheckpointRecord& checkpoint) = 0;
  // The job's checkpoints, oldest first.
  virtual absl::StatusOr<std::vector<CheckpointRecord>> Checkpoints(
      const std::string& job_id) = 0;
  virtual absl::Status ForgetCheckpoint(const std::string& job_id,
                                        int64_t round) = 0;

  // A rollback to `round`: forgets the rounds from `round` on and the
  // checkpoints after it, in one atomic step.
  virtual absl::Status Truncate(const std::string& job_id, int64_t round) = 0;
};

// True for SUCCEEDED, FAILED and CANCELLED.
bool IsFinal(v1::JobState state);

}  // namespace replex::store
