// The seam between job logic and the machines that run replicas: the job
// manager asks a ReplicaPool for room for a job and drives the JobExecutor it
// gets back. The worker registry implements it over remote workers; tests
// use fakes.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/runner/asynchronous.h"
#include "lib/runner/cut.h"
#include "lib/runner/driver.h"
#include "replex/v1/job.pb.h"

namespace replex::coordinator {

// A runner::ReplicaExecutor bound to one admitted job; destroying it releases
// the job (as Release does). Thread-safe: RunSegments runs on the job's
// thread, one call at a time, while Release and workers() may come from any
// thread.
class JobExecutor : public runner::ReplicaExecutor {
 public:
  // Ends the job on its workers: frees its places at once and makes the
  // RunSegments in progress, if any, and every later one return `why`.
  // Idempotent; the first `why` wins.
  virtual void Release(const absl::Status& why) = 0;

  // How many workers host the job's replicas now.
  virtual int workers() const = 0;

  // Where a replica starts again after a rollback.
  using ReplicaStart = runner::ReplicaStart;
  // Rolls the job back on its workers: forgets the round in progress and
  // every replica's current Context, and loads each replica afresh (a new
  // epoch, so late results of the old ones are dropped) from `starts` at
  // the next RunSegments, on the workers connected then. Clears a failure
  // that called for the rollback; returns it if the job has been released.
  virtual absl::Status Reload(const std::vector<ReplicaStart>& /*starts*/) {
    return absl::UnimplementedError("this pool cannot roll jobs back");
  }

  // Runs segments one replica at a time for asynchronous exchange; null
  // when the pool cannot.
  virtual runner::SegmentStream* Stream() { return nullptr; }
  // Whether a worker hosting the job's replicas is draining (Goodbye), so
  // an asynchronous job should reach a barrier, where its replicas can
  // move, rather than wait for its next checkpoint.
  virtual bool HostDraining() const { return false; }
};

// Implementations are thread-safe.
class ReplicaPool {
 public:
  virtual ~ReplicaPool() = default;

  // Reserves places for the job's `n_replicas` replicas on workers of its
  // platform. When there is no room yet, returns RESOURCE_EXHAUSTED saying
  // what the job waits for; the caller tries again when the listener fires.
  virtual absl::StatusOr<std::unique_ptr<JobExecutor>> Admit(
      const std::string& job_id, std::shared_ptr<const v1::JobSpec> spec,
      int n_replicas) = 0;

  // `listener` is called, with no lock of the pool held, whenever room may
  // have grown for a reason other than a job's release (which the caller
  // sees itself): a worker joined. It must not be called from within a call
  // into the pool, so the caller may hold its own locks around those calls.
  virtual void SetCapacityListener(std::function<void()> listener) = 0;
};

}  // namespace replex::coordinator
