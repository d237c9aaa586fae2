// The coordinator's durable record: jobs (spec, state, last snapshot), every
// job's exchange log (one row per completed round), its checkpoints (the
// consistent cuts it can resume from) and the incarnation counter that keeps
// epochs issued after a restart above those issued before. SQLite in WAL
// mode; ":memory:" gives a journal that lives as long as the object (for
// tests and for a coordinator run without durability).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "lib/exchange/scheme.h"
#include "replex/v1/job.pb.h"
#include "replex/v1/job_service.pb.h"

struct sqlite3;

namespace replex::coordinator {

// One journaled round: what RoundDriver::Replay needs (round, after, pair
// counts; `before` is left identity) and the replicas' potential energies.
struct JournaledRound {
  exchange::RoundOutcome outcome;
  std::vector<double> potential_kj_mol;  // by replica
};

struct JournaledJob {
  v1::Job job;                      // the last snapshot journaled
  std::optional<v1::JobSpec> spec;  // dropped once the job has ended
  int64_t seq = 0;                  // submission order
};

struct CheckpointRecord {
  int64_t round = 0;  // rounds completed at the cut
  std::string path;
};

// Thread-safe: one connection behind one mutex. Every write is its own
// transaction, durable against a crash of the process once it returns
// (WAL with synchronous=NORMAL: a power loss may lose the latest
// transactions, never a prefix of them).
class Journal {
 public:
  // Creates the file and its parent directory when missing.
  static absl::StatusOr<std::unique_ptr<Journal>> Open(const std::string& path);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  const std::string& path() const { return path_; }

  // Counts coordinator starts: 1 for the first, one more for each later.
  absl::StatusOr<int64_t> NextIncarnation();

  absl::Status AddJob(const v1::Job& job, const v1::JobSpec& spec, int64_t seq);
  // Stores the job's snapshot; an ended job's spec is dropped.
  absl::Status UpdateJob(const v1::Job& job);
  // Every job, in submission order.
  absl::StatusOr<std::vector<JournaledJob>> Jobs();

  // Appends a round to the job's exchange log. ALREADY_EXISTS if the round
  // is there: a round is never recorded twice.
  absl::Status RecordRound(const std::string& job_id,
                           const exchange::RoundOutcome& outcome,
                           const std::vector<double>& potential_kj_mol);
  // The job's rounds below `end_round`, in order.
  absl::StatusOr<std::vector<JournaledRound>> Rounds(const std::string& job_id,
                                                     int64_t end_round);

  absl::Status RecordCheckpoint(const std::string& job_id,
                                const CheckpointRecord& checkpoint);
  // The job's checkpoints, oldest first.
  absl::StatusOr<std::vector<CheckpointRecord>> Checkpoints(
      const std::string& job_id);
  absl::Status ForgetCheckpoint(const std::string& job_id, int64_t round);

  // A rollback to `round`: forgets the rounds from `round` on and the
  // checkpoints after it, in one transaction.
  absl::Status Truncate(const std::string& job_id, int64_t round);

 private:
  Journal(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  // Runs SQL without parameters or results.
  absl::Status Exec(const std::string& sql) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  sqlite3* const db_ ABSL_PT_GUARDED_BY(mu_);
  const std::string path_;
};

}  // namespace replex::coordinator
