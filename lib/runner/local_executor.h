// Runs a job's replicas in this process: one engine::Replica (OpenMM
// Context) per replica, multiplexed over a threads::SlotPool. Embedded mode's
// executor.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "lib/engine/engine.h"
#include "lib/runner/asynchronous.h"
#include "lib/runner/cut.h"
#include "lib/runner/driver.h"
#include "lib/threads/slot_pool.h"
#include "replex/v1/job.pb.h"

namespace replex::runner {

// Thread-compatible: one RunSegments call at a time, or the segments of
// asynchronous exchange (SegmentStream), never both at once.
class LocalExecutor : public ReplicaExecutor, public SegmentStream {
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
  // Starts the segments on the pool, runs `meanwhile` on the calling thread
  // and then waits for them.
  absl::StatusOr<std::vector<SegmentResult>> RunSegmentsOverlapping(
      const std::vector<SegmentOrder>& orders,
      const std::function<void()>& meanwhile) override;

  // Unpinned, any thread computes any queued segment (threads::SlotPool),
  // so one is free when fewer are started and not returned than there are
  // threads. Pinned, replica i's Context computes on share i % threads and
  // only that share's thread drives it, so a share is free when none of its
  // replicas' segments is outstanding.
  bool SlotFree() const override;
  void Start(const SegmentOrder& order) override;
  Finished Next() override;
  // Each replica's state, saved on its own thread.
  absl::StatusOr<std::vector<std::string>> States() override;

  // Waits for the segments started and not yet returned by Next.
  ~LocalExecutor() override;

 private:
  LocalExecutor(int threads, bool pin)
      : threads_(threads), pool_(threads, pin), outstanding_(threads, 0) {}
  const int threads_;
  threads::SlotPool pool_;
  std::vector<std::unique_ptr<engine::Replica>> replicas_;
  absl::Mutex mu_;
  // Segments started and not yet returned by Next, by share (replica %
  // threads).
  std::vector<int> outstanding_;
  int running_ ABSL_GUARDED_BY(mu_) = 0;  // started, not yet finished
  std::deque<Finished> finished_ ABSL_GUARDED_BY(mu_);
};

}  // namespace replex::runner
