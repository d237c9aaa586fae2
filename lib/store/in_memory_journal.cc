#include "lib/store/in_memory_journal.h"

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"

namespace replex::store {

absl::StatusOr<int64_t> InMemoryJournal::NextIncarnation() {
  absl::MutexLock lock(&mu_);
  return ++incarnation_;
}

absl::Status InMemoryJournal::AddJob(const v1::Job& job,
                                     const v1::JobSpec& spec, int64_t seq) {
  absl::MutexLock lock(&mu_);
  JournaledJob entry{job, spec, seq};
  if (!jobs_.emplace(job.job_id(), std::move(entry)).second) {
    return absl::AlreadyExistsError(
        absl::StrCat("journal: job ", job.job_id(), " is already there"));
  }
  return absl::OkStatus();
}

absl::Status InMemoryJournal::UpdateJob(const v1::Job& job) {
  absl::MutexLock lock(&mu_);
  auto it = jobs_.find(job.job_id());
  // As an SQL UPDATE of no row: nothing happens.
  if (it == jobs_.end()) return absl::OkStatus();
  it->second.job = job;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<JournaledJob>> InMemoryJournal::Jobs() {
  absl::MutexLock lock(&mu_);
  std::vector<JournaledJob> jobs;
  for (const auto& [id, entry] : jobs_) {
    // An ended job's spec (its System) is not copied: see JournaledJob.
    jobs.push_back({entry.job,
                    IsFinal(entry.job.state()) ? std::nullopt : entry.spec,
                    entry.seq});
  }
  std::stable_sort(jobs.begin(), jobs.end(),
                   [](const JournaledJob& a, const JournaledJob& b) {
                     return a.seq < b.seq;
                   });
  return jobs;
}

absl::StatusOr<v1::JobSpec> InMemoryJournal::Spec(const std::string& job_id) {
  absl::MutexLock lock(&mu_);
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) {
    return absl::NotFoundError(absl::StrCat("journal: no job ", job_id));
  }
  return *it->second.spec;
}

absl::Status InMemoryJournal::RecordRound(
    const std::string& job_id, const exchange::RoundOutcome& outcome,
    const std::vector<double>& potential_kj_mol) {
  absl::MutexLock lock(&mu_);
  // What a replay gets back: `before` is not journaled.
  JournaledRound round{outcome, potential_kj_mol};
  round.outcome.before = exchange::Permutation::Identity(outcome.after.size());
  if (!rounds_.emplace(Key(job_id, outcome.round), std::move(round)).second) {
    return absl::AlreadyExistsError(absl::StrCat("journal: round ",
                                                 outcome.round, " of job ",
                                                 job_id, " is already there"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<JournaledRound>> InMemoryJournal::Rounds(
    const std::string& job_id, int64_t end_round) {
  absl::MutexLock lock(&mu_);
  std::vector<JournaledRound> rounds;
  for (auto it = rounds_.lower_bound(
           Key(job_id, std::numeric_limits<int64_t>::min()));
       it != rounds_.end() && it->first.first == job_id &&
       it->first.second < end_round;
       ++it) {
    rounds.push_back(it->second);
  }
  return rounds;
}

absl::Status InMemoryJournal::RecordCheckpoint(
    const std::string& job_id, const CheckpointRecord& checkpoint) {
  absl::MutexLock lock(&mu_);
  checkpoints_[Key(job_id, checkpoint.round)] = checkpoint.location;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<CheckpointRecord>> InMemoryJournal::Checkpoints(
    const std::string& job_id) {
  absl::MutexLock lock(&mu_);
  std::vector<CheckpointRecord> checkpoints;
  for (auto it = checkpoints_.lower_bound(
           Key(job_id, std::numeric_limits<int64_t>::min()));
       it != checkpoints_.end() && it->first.first == job_id; ++it) {
    checkpoints.push_back({it->first.second, it->second});
  }
  return checkpoints;
}

absl::Status InMemoryJournal::ForgetCheckpoint(const std::string& job_id,
                                               int64_t round) {
  absl::MutexLock lock(&mu_);
  checkpoints_.erase(Key(job_id, round));
  return absl::OkStatus();
}

absl::Status InMemoryJournal::Truncate(const std::string& job_id,
                                       int64_t round) {
  absl::MutexLock lock(&mu_);
  rounds_.erase(
      rounds_.lower_bound(Key(job_id, round)),
      rounds_.upper_bound(Key(job_id, std::numeric_limits<int64_t>::max())));
  checkpoints_.erase(checkpoints_.upper_bound(Key(job_id, round)),
                     checkpoints_.upper_bound(
                         Key(job_id, std::numeric_limits<int64_t>::max())));
  return absl::OkStatus();
}

}  // namespace replex::store
