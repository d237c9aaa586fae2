// The journal in a SQLite file in WAL mode: the coordinator's production
// journal (--journal).
#pragma once

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "lib/store/journal.h"

struct sqlite3;

namespace replex::store {

// Thread-safe: one connection behind one mutex. Every write is its own
// transaction, durable against a crash of the process once it returns
// (WAL with synchronous=NORMAL: a power loss may lose the latest
// transactions, never a prefix of them).
class SqliteJournal final : public Journal {
 public:
  // Creates the file and its parent directory when missing.
  // FAILED_PRECONDITION naming the path when it cannot be opened or used.
  static absl::StatusOr<std::unique_ptr<SqliteJournal>> Open(
      const std::string& path);
  ~SqliteJournal() override;
  SqliteJournal(const SqliteJournal&) = delete;
  SqliteJournal& operator=(const SqliteJournal&) = delete;

  const std::string& path() const { return path_; }

  absl::StatusOr<int64_t> NextIncarnation() override;
  absl::Status AddJob(const v1::Job& job, const v1::JobSpec& spec,
                      int64_t seq) override;
  absl::Status UpdateJob(const v1::Job& job) override;
  absl::StatusOr<std::vector<JournaledJob>> Jobs() override;
  absl::StatusOr<v1::JobSpec> Spec(const std::string& job_id) override;
  absl::Status RecordRound(
      const std::string& job_id, const exchange::RoundOutcome& outcome,
      const std::vector<double>& potential_kj_mol) override;
  absl::StatusOr<std::vector<JournaledRound>> Rounds(
      const std::string& job_id, int64_t end_round) override;
  absl::Status RecordCheckpoint(const std::string& job_id,
                                const CheckpointRecord& checkpoint) override;
  absl::StatusOr<std::vector<CheckpointRecord>> Checkpoints(
      const std::string& job_id) override;
  absl::Status ForgetCheckpoint(const std::string& job_id,
                                int64_t round) override;
  absl::Status Truncate(const std::string& job_id, int64_t round) override;

 private:
  SqliteJournal(sqlite3* db, std::string path)
      : db_(db), path_(std::move(path)) {}
  // Runs SQL without parameters or results.
  absl::Status Exec(const std::string& sql) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  sqlite3* const db_ ABSL_PT_GUARDED_BY(mu_);
  const std::string path_;
};

}  // namespace replex::store
