// Embedded mode (`replex run`): a whole job in this process, the RoundDriver
// over a LocalExecutor that multiplexes replicas over a pool of threads.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "lib/engine/engine.h"
#include "lib/exchange/scheme.h"
#include "lib/exchange/statistics.h"
#include "lib/runner/asynchronous.h"
#include "lib/runner/report.h"
#include "lib/store/checkpoint_store.h"
#include "lib/store/journal.h"
#include "replex/v1/job.pb.h"

namespace replex::runner {

// Where a run keeps what it needs to resume (`replex run`'s results
// directory): every round in `journal` under `job_id`, and a cut in
// `checkpoints` every checkpoint_interval rounds and after the last, as the
// coordinator does (docs/durability.md).
struct RunDurability {
  store::Journal* journal = nullptr;
  store::CheckpointStore* checkpoints = nullptr;
  std::string job_id = "run";
  // Start from the journal's newest usable cut (round 0 without one),
  // forgetting the rounds journaled past it, instead of from round 0.
  bool resume = false;
  // Also checkpoint the first round that ends this long after the last
  // checkpoint (or the start), whatever checkpoint_interval says, so a run
  // killed at any moment loses at most this much work plus a round. 0: off.
  absl::Duration checkpoint_every = absl::ZeroDuration();
};

struct RunOptions {
  int threads = 1;  // replicas multiplexed over this many threads
  // Pin each thread, and the OpenMM threads of the Contexts it creates, to
  // its own share of this process's CPUs (threads::SlotPool's `pin`). Only
  // for a machine the run has to itself.
  bool pin_threads = false;
  // Collect positions every this many rounds (0: never), for observers;
  // under asynchronous exchange, after every segment when not 0.
  int positions_every = 0;
  // Called once, before the first round, with the round the run starts at
  // (0, or the cut's when resuming); a non-OK status stops the run.
  std::function<absl::Status(int64_t next_round)> on_start;
  // Called after each round, on the calling thread; a non-OK status stops the
  // run and is returned.
  std::function<absl::Status(const RoundReport&)> on_round;
  // Both set: the run journals and checkpoints (and may resume).
  RunDurability durability;
  // Asked before each round, with the mean wall seconds of the rounds run so
  // far (0 before the first); true stops the run (a signal, a walltime). A
  // durable run first completes that round with every replica's state and
  // checkpoints it, then returns service::ResumableError naming the round;
  // one that is not returns CANCELLED at once.
  std::function<bool(double mean_round_seconds)> should_stop;
};

// Asynchronous exchange (exchange.mode: asynchronous) of a valid spec with
// `driver` (RoundDriver::Create's at round 0, or a cut's) over `stream`,
// whose replicas start where `from` says (empty: rung i, no segments run),
// with `options`' callbacks (each exchange event is a RoundReport with
// `replicas` and `segments_by_replica`) and durability: every event is
// journaled, and checkpoints are taken at barriers (no segment running)
// every checkpoint_interval rounds' worth of segments, after
// checkpoint_every, on a stop and at the end (docs/exchange.md). Threads
// and pinning are the caller's. Times count from `start`. RunJob passes its
// LocalExecutor; tests pass a stream that finishes segments in a scripted
// order, which makes a run reproducible.
absl::StatusOr<RunResult> RunAsynchronousOn(
    const v1::JobSpec& spec, const RunOptions& options, RoundDriver& driver,
    SegmentStream& stream, absl::Time start, const AsynchronousRun& from = {});

// Validates the spec, loads the model, creates one engine replica per rung
// (replica i starts at rung i; when resuming, as the cut says) and runs the
// rounds up to n_rounds. Its ns/day counts the rounds run by this call.
absl::StatusOr<RunResult> RunJob(const v1::JobSpec& spec,
                                 const RunOptions& options);

}  // namespace replex::runner
