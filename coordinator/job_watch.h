// One subscriber's view of a job's events (WatchJob), fed by the job
// manager and drained by the RPC that serves the watch.
#pragma once

#include <cstddef>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "replex/v1/job_service.pb.h"

namespace replex::coordinator {

// A snapshot first, then a RoundEvent per round and a snapshot on every
// state change; after the snapshot of the final state the watch ends with
// OK. A watcher that falls behind by more than kMaxQueuedBytes has what it
// has not read replaced by one snapshot of the job as it is now (its
// running totals), which it reads as after a rollback; so a slow reader
// costs at most that much memory, and a fast one misses nothing. Events are
// shared, not copied, between the watches of a job. Thread-safe.
class JobWatch {
 public:
  static constexpr size_t kMaxQueuedBytes = size_t{1} << 20;

  // Told when an event or the end may be ready to take, so that a reader
  // need not wait in Take (the WatchJob reactor). Called outside the watch's
  // lock, possibly with the job manager's held: it must not block.
  class Listener {
   public:
    virtual ~Listener() = default;
    virtual void Ready() = 0;
  };

  // An event as the job manager publishes it: shared by the job's watches,
  // with its serialized size (for kMaxQueuedBytes) computed once. A round
  // event is also kept serialized as an element of RoundEvents.rounds (about
  // as large), so that batches (TakeRounds) are put together by copying
  // bytes rather than serializing the round once per watcher.
  struct Event {
    static Event Of(v1::JobEvent event);
    std::shared_ptr<const v1::JobEvent> event;
    std::shared_ptr<const std::string> round_element;  // round events only
    size_t bytes = 0;  // the event's serialized size
  };

  // kLater: TakeRounds left rounds queued (Ready() is not called for them
  // until they pass half of kMaxQueuedBytes).
  enum class Next { kEvent, kTimeout, kEnded, kLater };
  // Waits up to `timeout` for the next event. kEnded once every event has
  // been taken and the watch is over; end_status() then says why.
  Next Take(std::shared_ptr<const v1::JobEvent>* event, absl::Duration timeout);
  // As Take without waiting, except that a round event comes together with
  // the round events queued after it (up to the next snapshot) as one
  // JobEvent.rounds: WatchJobRequest.batch_ms. With `rounds_now` false, queued
  // rounds are left where they are (kLater) and only a snapshot before them
  // is taken, unless they fill more than half of kMaxQueuedBytes (Push then
  // calls Ready() once), so that a batch is sent before it could be
  // coalesced. The rounds are in the event's unknown fields, so they read as
  // `rounds` once it is serialized and parsed again (as gRPC does), not
  // before.
  Next TakeRounds(std::shared_ptr<const v1::JobEvent>* event, bool rounds_now);
  absl::Status end_status() const;

  // Ready() is called once now, on End, and on the first Push after a take
  // that found nothing: a reader that is busy writing is not disturbed for
  // every event, and takes again when it is done. It is not called once the
  // listener is gone.
  void Listen(std::weak_ptr<Listener> listener);

  // The subscriber has gone away: ends the watch, and the job manager stops
  // feeding it.
  void Cancel();

  // The job manager's side. `now` is the job as it is with `event`
  // applied: the snapshot that replaces the queue when it is full.
  void Push(Event event, const v1::Job& now);
  void End(absl::Status status);
  bool ended() const;
  // The serialized size of the unread events.
  size_t queued_bytes() const;

 private:
  bool ReadyLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !events_.empty() || end_.has_value();
  }
  void Notify();  // without mu_
  Event PopLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // kEnded, or kTimeout (and the next Push notifies).
  Next NothingLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::deque<Event> events_ ABSL_GUARDED_BY(mu_);
  size_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  std::optional<absl::Status> end_ ABSL_GUARDED_BY(mu_);
  std::weak_ptr<Listener> listener_ ABSL_GUARDED_BY(mu_);
  // The last take found nothing: the next Push calls Ready().
  bool reader_waiting_ ABSL_GUARDED_BY(mu_) = true;
};

}  // namespace replex::coordinator
