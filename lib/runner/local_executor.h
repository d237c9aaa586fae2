// Runs a job's replicas in this process: one engine::Replica (OpenMM
// Context) per replica, multiplexed over a threads::SlotPool. Embedded mode's
// executor.
#pragma once

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/engine/engine.h"
#include "lib/runner/cut.h"
#include "lib/runner/driver.h"
#include "lib/threads/slot_pool.h"
#include "replex/v1/job.pb.h"

namespace replex::runner {

// Thread-compatible: one RunSegments call at a time.
class LocalExecutor : public ReplicaExecutor {
 public:
  // Loads the model and creates every replica (replica i at rung i, or as
  // `starts[i]` says when resuming from a cut), the Contexts in parallel on a
  // threads::SlotPool of `threads` threads, with `pin` pinned to disjoint
  // CPUs. Replica i's Context is created and then driven by tasks of
  // affinity i, so it keeps one thread while the load is even
  // (threads::SlotPool says why that matters).
  static absl::StatusOr<std::unique_ptr<LocalExecutor>> Create(
      const v1::JobSpec& spec, const exchange::Ladder& ladder, int threads,
      bool pin, const std::vector<ReplicaStart>& starts = {});

  absl::StatusOr<std::vector<SegmentResult>> RunSegments(
      const std::vector<SegmentOrder>& orders) override;

 private:
  LocalExecutor(int threads, bool pin) : pool_(threads, pin) {}
  threads::SlotPool pool_;
  std::vector<std::unique_ptr<engine::Replica>> replicas_;
};

}  // namespace replex::runner
