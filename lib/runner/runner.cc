#include "lib/runner/runner.h"

#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "lib/runner/driver.h"
#include "lib/runner/local_executor.h"
#include "lib/spec/spec.h"

namespace replex::runner {

absl::StatusOr<RunResult> RunJob(const v1::JobSpec& spec,
                                 const RunOptions& options) {
  if (absl::Status valid = spec::Validate(spec); !valid.ok()) return valid;
  absl::StatusOr<RoundDriver> driver = RoundDriver::Create(spec);
  if (!driver.ok()) return driver.status();
  const absl::Time start = absl::Now();
  absl::StatusOr<std::unique_ptr<LocalExecutor>> executor =
      LocalExecutor::Create(spec, driver->ladder(), options.threads,
                            options.pin_threads);
  if (!executor.ok()) return executor.status();

  const int n = driver->ladder().size();
  std::vector<std::vector<engine::Vec3>> positions(n);
  std::vector<std::string> states(n);
  while (!driver->done()) {
    const bool want_positions = options.positions_every > 0 &&
                                driver->round() % options.positions_every == 0;
    // The final states go into the results (final_states/).
    const bool want_states =
        driver->round() + 1 == spec.exchange().n_rounds();
    absl::StatusOr<std::vector<SegmentResult>> results =
        (*executor)->RunSegments(driver->Orders(want_positions, want_states));
    if (!results.ok()) return results.status();
    absl::StatusOr<const RoundDriver::Completed*> round =
        driver->Complete(*results);
    if (!round.ok()) return round.status();
    if (!options.on_round) continue;
    for (int i = 0; i < n; ++i) {
      if (want_positions) positions[i] = std::move((*results)[i].positions_nm);
      if (want_states) states[i] = std::move((*results)[i].state);
    }
    const RoundReport report{(*round)->outcome,
                             (*round)->potential_kj_mol,
                             (*round)->reduced,
                             driver->statistics(),
                             (*round)->box_nm,
                             want_positions ? &positions : nullptr,
                             absl::ToDoubleSeconds(absl::Now() - start),
                             want_states ? &states : nullptr};
    if (absl::Status status = options.on_round(report); !status.ok()) {
      return status;
    }
  }
  return Summarize(spec, driver->statistics(), driver->permutation(),
                   absl::ToDoubleSeconds(absl::Now() - start));
}

}  // namespace replex::runner
