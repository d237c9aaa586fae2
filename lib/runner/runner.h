// Embedded mode (`replex run`): a whole job in this process, the RoundDriver
// over a LocalExecutor that multiplexes replicas over a pool of threads.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/engine/engine.h"
#include "lib/exchange/scheme.h"
#include "lib/exchange/statistics.h"
#include "lib/runner/report.h"
#include "replex/v1/job.pb.h"

namespace replex::runner {

struct RunOptions {
  int threads = 1;  // replicas multiplexed over this many threads
  // Pin each thread, and the OpenMM threads of the Contexts it creates, to
  // its own share of this process's CPUs (threads::SlotPool's `pin`). Only
  // for a machine the run has to itself.
  bool pin_threads = false;
  // Collect positions every this many rounds (0: never), for observers.
  int positions_every = 0;
  // Called after each round, on the calling thread; a non-OK status stops the
  // run and is returned.
  std::function<absl::Status(const RoundReport&)> on_round;
};

// Validates the spec, loads the model, creates one engine replica per rung
// (replica i starts at rung i) and runs n_rounds rounds.
absl::StatusOr<RunResult> RunJob(const v1::JobSpec& spec,
                                 const RunOptions& options);

}  // namespace replex::runner
