// Writes each job's results (lib/results, docs/results.md) on the
// coordinator: creates the job's directory at submission (refusing one that
// exists), opens the files when the job runs from a round (dropping what a
// rollback or a restart superseded), writes every round, and records the
// end. Also finds a job's directory again for DownloadResults.
#pragma once

#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "coordinator/job_observer.h"
#include "lib/results/results.h"

namespace replex::coordinator {

// Thread-safe: calls about different jobs may overlap.
class ResultsObserver : public JobObserver {
 public:
  // Jobs' directories are `root`/output.directory, or `root`/job id when
  // that is empty. `max_bytes_per_owner` > 0 is each owner's quota of
  // results disk (OnSubmit).
  explicit ResultsObserver(std::filesystem::path root,
                           uint64_t max_bytes_per_owner = 0);

  // ALREADY_EXISTS naming the directory when it exists; INVALID_ARGUMENT for
  // an absolute output.directory (a client may not write anywhere on the
  // coordinator's host); RESOURCE_EXHAUSTED when the results cannot fit on
  // the disk (results::CheckFreeSpace) or in the owner's quota: what the
  // owner's results directories hold now, each unfinished job counted at
  // least at its estimated final size, plus this job's estimate.
  absl::Status OnSubmit(const std::string& job_id,
                        const v1::JobSpec& spec) override;
  absl::Status OnRunning(const v1::Job& job, const v1::JobSpec& spec,
                         int64_t next_round) override;
  absl::Status OnRound(const v1::Job& job,
                       const runner::RoundReport& report) override;
  // Hands the job's writer to this observer's finishing thread, which
  // writes the manifest's end, MBAR's free energies into analysis.json and
  // report.html; returns at once. MBAR on a large ladder takes seconds to
  // minutes (256 rungs × 200 rounds: about 10 s here), and
  // OnFinished runs on the thread that ended the job (a worker's session),
  // holding the job manager's effects in order: done inline, it stalled
  // that worker's other jobs and every job's next state change. Jobs are
  // finished one at a time, in the order they ended; a job run again
  // (extended) waits in OnRunning until its finishing is done, and one
  // cancelled meanwhile opens no files. The destructor (the coordinator's
  // shutdown) finishes what is queued: a process killed before that leaves
  // those jobs without free energies, report.html and the manifest's end.
  void OnFinished(const v1::Job& job) override;
  // Finishes the jobs still queued, then stops the finishing thread.
  ~ResultsObserver() override;

  // The results directory of a job this coordinator (or an earlier run of it
  // on the same root) accepted; NOT_FOUND otherwise.
  absl::StatusOr<std::filesystem::path> DirectoryOf(
      const std::string& job_id) const;

  // For a job that has ended: waits (at most `timeout`) until the finishing
  // thread has written its last files (analysis.json with the free
  // energies, report.html), which happens after the end is published and
  // after the jobs that ended before it, so that a download right after
  // SUCCEEDED gets the finished results. False on timeout.
  bool AwaitFinished(const std::string& job_id, absl::Duration timeout) const;

 private:
  absl::StatusOr<std::filesystem::path> Resolve(const std::string& job_id,
                                                const v1::JobSpec& spec) const;
  // The owner's results disk as the quota counts it.
  uint64_t OwnerBytes(const std::string& owner)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(quota_mu_);

  const std::filesystem::path root_;
  const std::string host_;
  const uint64_t max_bytes_per_owner_;
  // Held from an owner's quota check to its job's entry in `estimates_`, so
  // that two submissions cannot both take the last room. Before mu_.
  absl::Mutex quota_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  // Unfinished jobs' estimated final results size (bytes).
  absl::flat_hash_map<std::string, uint64_t> estimates_ ABSL_GUARDED_BY(mu_);
  mutable absl::Mutex mu_;
  // A job's writer is used only by that job's calls, which never overlap;
  // the map itself is guarded.
  absl::flat_hash_map<std::string, std::unique_ptr<results::ResultsWriter>>
      writers_ ABSL_GUARDED_BY(mu_);
  // Jobs whose writer OnFinished has taken out of writers_ and is finishing.
  absl::flat_hash_set<std::string> finishing_ ABSL_GUARDED_BY(mu_);
  // Jobs in OnRunning, each with its final state if it ended meanwhile
  // (OnFinished found no writer; empty while it has not): OnRunning then
  // hands what it opened to the finishing thread instead of running.
  absl::flat_hash_map<std::string, std::string> opening_ ABSL_GUARDED_BY(mu_);
  // What the finishing thread has still to finish, oldest first.
  struct Ended {
    std::string job_id;
    std::string state;
    std::unique_ptr<results::ResultsWriter> writer;
  };
  std::deque<Ended> to_finish_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool FinisherHasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !to_finish_.empty() || stopping_;
  }
  void FinishLoop();
  std::thread finisher_;  // last: started once the members above exist
};

}  // namespace replex::coordinator
