// One subscriber's view of a job's events (WatchJob), fed by the job
// manager and drained by the RPC that serves the watch.
#pragma once

#include <cstddef>
#include <deque>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "replex/v1/job_service.pb.h"

namespace replex::coordinator {

// A snapshot first, then a RoundEvent per round and a snapshot on every
// state change; after the snapshot of the final state the watch ends with
// OK. Thread-safe.
class JobWatch {
 public:
  // A watcher that falls this many events behind is ended with
  // RESOURCE_EXHAUSTED rather than letting its queue grow without bound.
  static constexpr size_t kMaxQueuedEvents = 10000;

  enum class Next { kEvent, kTimeout, kEnded };
  // Waits up to `timeout` for the next event. kEnded once every event has
  // been taken and the watch is over; end_status() then says why.
  Next Take(v1::JobEvent* event, absl::Duration timeout);
  absl::Status end_status() const;

  // The subscriber has gone away: ends the watch, and the job manager stops
  // feeding it.
  void Cancel();

  // The job manager's side.
  void Push(v1::JobEvent event);
  void End(absl::Status status);
  bool ended() const;

 private:
  bool ReadyLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !events_.empty() || end_.has_value();
  }

  mutable absl::Mutex mu_;
  std::deque<v1::JobEvent> events_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::Status> end_ ABSL_GUARDED_BY(mu_);
};

}  // namespace replex::coordinator
