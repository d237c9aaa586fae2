// Asynchronous exchange (exchange.mode: asynchronous): replicas run segments
// independently, and those between segments exchange among themselves
// whenever a slot would otherwise wait, so no replica waits for the slowest
// (docs/exchange.md#asynchronous-exchange).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/runner/driver.h"

namespace replex::runner {

// Runs segments one replica at a time and hands each back as it finishes:
// asynchronous exchange's executor. Start and Next are called from one
// thread.
class SegmentStream {
 public:
  virtual ~SegmentStream() = default;
  // Whether a slot (a thread, a worker's slot) has no segment to run: none
  // running on it and none queued for it, counting a segment as running
  // until Next has returned it (not when it really ended), so that the
  // answer depends only on the order segments were returned in.
  virtual bool SlotFree() const = 0;
  // Starts `order`'s segment and returns at once.
  virtual void Start(const SegmentOrder& order) = 0;
  // Waits for a started segment to finish: its order and its result or
  // error. Called only while a segment started and has not been returned.
  struct Finished {
    SegmentOrder order;
    absl::StatusOr<SegmentResult> result;
  };
  virtual Finished Next() = 0;
};

// One exchange event as observers see it: the replicas that took part (in
// the order their segments finished) and what the driver decided; the
// Completed's entries for the other replicas are NaN.
struct ExchangeEvent {
  const std::vector<int>& replicas;
  const std::vector<SegmentResult>& results;  // parallel to replicas
  const RoundDriver::Completed& completed;
};

struct AsynchronousRun {
  int64_t events = 0;
  std::vector<int64_t> segments_by_replica;
};

// Runs `segments` segments in all (n_rounds x replicas: the MD of a
// synchronous job) on `stream`, starting every replica at once. When a
// segment finishes its replica waits; an event is held when at least two
// wait and a slot has nothing to run (SegmentStream::SlotFree: it would
// otherwise idle), or when none is running. The waiting replicas exchange
// among themselves (RoundDriver::CompleteAmong), `on_event` is called, and
// they start their next segments while any are left. With
// `want_positions` every segment returns its positions. Which replicas meet
// is a function of the order segments finish in, so a run is reproduced
// exactly by the same completion order. On an error the running segments
// are waited for before it is returned.
absl::StatusOr<AsynchronousRun> RunAsynchronously(
    RoundDriver& driver, SegmentStream& stream, int64_t segments,
    bool want_positions,
    const std::function<absl::Status(const ExchangeEvent&)>& on_event);

}  // namespace replex::runner
