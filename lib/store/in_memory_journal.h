// The journal in memory: for tests (rollback and recovery without files) and
// for a coordinator run without durability. Lost with the object.
#pragma once

#include <map>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "lib/store/journal.h"

namespace replex::store {

// Thread-safe; behaves as SqliteJournal does, call for call (store_test runs
// the same cases on both).
class InMemoryJournal final : public Journal {
 public:
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
  using Key = std::pair<std::string, int64_t>;  // (job_id, round)

  absl::Mutex mu_;
  int64_t incarnation_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, JournaledJob> jobs_ ABSL_GUARDED_BY(mu_);
  std::map<Key, JournaledRound> rounds_ ABSL_GUARDED_BY(mu_);
  std::map<Key, std::string> checkpoints_ ABSL_GUARDED_BY(mu_);
};

}  // namespace replex::store
