// Runs a job's replicas in this process: one engine::Replica (OpenMM
// Context) per replica, multiplexed over a thread pool. Embedded mode's
// executor.
#pragma once

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/engine/engine.h"
#include "lib/runner/driver.h"
#include "lib/runner/thread_pool.h"
#include "replex/v1/job.pb.h"

namespace replex::runner {

// Thread-compatible: one RunSegments call at a time.
class LocalExecutor : public ReplicaExecutor {
 public:
  // Loads the model and creates every replica (replica i at rung i), the
  // Contexts in parallel on the pool.
  static absl::StatusOr<std::unique_ptr<LocalExecutor>> Create(
      const v1::JobSpec& spec, const exchange::Ladder& ladder, int threads);

  absl::StatusOr<std::vector<SegmentResult>> RunSegments(
      const std::vector<SegmentOrder>& orders) override;

 private:
  explicit LocalExecutor(int threads) : pool_(threads) {}
  ThreadPool pool_;
  std::vector<std::unique_ptr<engine::Replica>> replicas_;
};

}  // namespace replex::runner
