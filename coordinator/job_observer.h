// Parties that follow every job's life on the coordinator (the results
// writer, the metrics, the journal) without the job manager knowing them.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "lib/runner/report.h"
#include "replex/v1/job.pb.h"
#include "replex/v1/job_service.pb.h"

namespace replex::coordinator {

// Every method has a do-nothing default, so an observer overrides only what
// it needs. The job manager calls them in the order of a job's life:
// OnSubmit, then OnRunning and OnRound for each round (OnRunning again after
// a restart or a rollback), then OnFinished. Calls about one job never
// overlap; calls about different jobs may.
class JobObserver {
 public:
  virtual ~JobObserver() = default;

  // After the spec is validated and the id chosen, before the job is queued;
  // not under the job manager's lock. A non-OK status refuses the
  // submission with that status (e.g. its results directory exists).
  virtual absl::Status OnSubmit(const std::string& /*job_id*/,
                                const v1::JobSpec& /*spec*/) {
    return absl::OkStatus();
  }

  // The job's rounds from `next_round` on are about to run: 0 at the first
  // start; after a restart or a rollback to a checkpoint, the checkpoint's
  // round, and whatever was recorded for rounds >= next_round is superseded.
  // On the job's thread. A non-OK status fails the job.
  virtual absl::Status OnRunning(const v1::Job& /*job*/,
                                 const v1::JobSpec& /*spec*/,
                                 int64_t /*next_round*/) {
    return absl::OkStatus();
  }

  // A round completed (`job` already shows it). On the job's thread. A
  // non-OK status fails the job: losing results silently is worse.
  virtual absl::Status OnRound(const v1::Job& /*job*/,
                               const runner::RoundReport& /*report*/) {
    return absl::OkStatus();
  }

  // A checkpoint of the job at `round` is durable; writing it (file and
  // journal) took `seconds`. On the job's thread.
  virtual void OnCheckpoint(const std::string& /*job_id*/, int64_t /*round*/,
                            double /*seconds*/) {}

  // A replica failed (NaN energy, an integration error) and the job rolls
  // back to its last checkpoint to restart it. On the job's thread.
  virtual void OnReplicaRestart(const std::string& /*job_id*/) {}

  // The job reached SUCCEEDED, FAILED or CANCELLED (and the journal says
  // so). From any thread, after the job manager's lock is released, in the
  // order jobs ended.
  virtual void OnFinished(const v1::Job& /*job*/) {}
};

}  // namespace replex::coordinator
