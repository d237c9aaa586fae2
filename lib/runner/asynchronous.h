// Asynchronous exchange (exchange.mode: asynchronous): replicas run segments
// independently, and those between segments exchange among themselves
// whenever a slot would otherwise wait, so no replica waits for the slowest
// (docs/exchange.md#asynchronous-exchange).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/engine/engine.h"
#include "lib/runner/driver.h"
#include "lib/runner/report.h"

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
  // Every replica's state (engine::PortableState::Serialize), by replica:
  // a checkpoint's and the final states. Called only while no segment runs.
  virtual absl::StatusOr<std::vector<std::string>> States() = 0;
};

struct AsynchronousRun {
  int64_t events = 0;
  // Per replica: the segments it finished, and the rung its last one ran
  // at (where its state was made; its starting rung before the first).
  std::vector<int64_t> segments_by_replica;
  std::vector<int> state_rung;
  // Per rung: the segments run at it (its samples).
  std::vector<int64_t> segments_by_rung;
};

// The segments `run` has finished, over all replicas.
int64_t SegmentsFinished(const AsynchronousRun& run);

// One exchange event as observers see it: the replicas that took part (in
// the order their segments finished) and what the driver decided; the
// Completed's entries for the other replicas are NaN.
struct ExchangeEvent {
  const std::vector<int>& replicas;
  const std::vector<SegmentResult>& results;  // parallel to replicas
  const RoundDriver::Completed& completed;
  // The run so far, counting this event's segments.
  const AsynchronousRun& run;
  // No segment is running: every replica is between segments, so
  // SegmentStream::States may be called (a checkpoint, the end).
  bool barrier = false;
};

// `event` as observers get it: its replicas and the run's segment counts,
// the energies of the others NaN. With `positions`, those are refilled with
// the event's replicas' positions (empty for the others) and reported;
// with `states`, they are the job's final states. The caller sets
// ns_per_day. What it points to must outlive the report.
RoundReport EventReport(const ExchangeEvent& event, const RoundDriver& driver,
                        double elapsed_seconds,
                        std::vector<std::vector<engine::Vec3>>* positions,
                        const std::vector<std::string>* states);

struct AsynchronousOptions {
  // Segments in all (n_rounds x replicas: the MD of a synchronous job),
  // counting those `from` already ran.
  int64_t segments = 0;
  // A segment returns its positions when it is its rung's or its
  // replica's 1st, (m+1)-th, (2m+1)-th ... with m = positions_every (the
  // results' frames); 0: none does.
  int positions_every = 0;
  // Where a resumed run goes on (a checkpoint's counts, at the driver's
  // round); empty: every replica at segment 0 on rung i.
  AsynchronousRun from;
  // Asked at each event, before on_event and while segments are left to
  // start and none is draining, with the segments finished in all; true
  // starts no more until none is running, so that the event then held is a
  // barrier (this one, when none runs).
  std::function<bool(int64_t segments_finished)> barrier_due;
};

// Runs `options.segments` segments on `stream`, starting every replica at
// once. When a segment finishes its replica waits; an event is held when at
// least two wait and a slot has nothing to run (SegmentStream::SlotFree: it
// would otherwise idle), or when none is running. The waiting replicas
// exchange among themselves (RoundDriver::CompleteAmong), `on_event` is
// called, and they start their next segments while any are left. After a
// barrier every replica starts again, in replica order, as a resumed run
// starts them. Which replicas meet is a function of the order segments
// finish in (and of when barriers are due), so a run is reproduced exactly
// by the same completion order. On an error (of a segment, or returned by
// `on_event`) the running segments are waited for before it is returned.
absl::StatusOr<AsynchronousRun> RunAsynchronously(
    RoundDriver& driver, SegmentStream& stream,
    const AsynchronousOptions& options,
    const std::function<absl::Status(const ExchangeEvent&)>& on_event);

}  // namespace replex::runner
