// What replexctl prints, apart from talking to the gateway: durations, ETAs,
// progress bars, the jobs table, a job's detail, and the live progress of a
// watch. Pure functions of their arguments (the time is passed in), so they
// are tested without a server or a clock.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "lib/timing/duration.h"
#include "replex/v1/job_service.pb.h"

namespace replex::cli {

// `width` cells between brackets, filled in proportion to `fraction`
// (clamped to [0, 1]): "[=========>          ]".
std::string ProgressBar(double fraction, int width);

// Seconds to do `rounds_left` more rounds at the rate of `rounds_done` rounds
// in `seconds`; nullopt while that rate is unknown.
std::optional<double> EtaSeconds(int64_t rounds_done, double seconds,
                                 int64_t rounds_left);

// "RUNNING", ...; "UNKNOWN(7)" for a state this build does not know.
std::string StateName(int state);
// SUCCEEDED, FAILED or CANCELLED.
bool IsEnded(int state);

// "0.31-0.45" over the pairs with attempts, "0.31" when all agree, "-" when
// none has any.
std::string AcceptanceRange(const v1::Job& job);

// Columns padded to their widest cell, two spaces apart, with trailing
// blanks trimmed; `right_aligned[i]` right-aligns column i (numbers).
std::string FormatTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows,
                        const std::vector<bool>& right_aligned);

// One row per job: id, name, owner, state, rounds done/total, acceptance
// range, ns/day and age (since created, as of `now`).
std::string JobsTable(const std::vector<v1::Job>& jobs, absl::Time now);

// Everything about one job: state, progress, throughput, workers, times, the
// per-pair acceptance table with rung temperatures, and the error if failed.
std::string JobDetail(const v1::Job& job, absl::Time now);

// `replexctl report`: a job's analysis.json (docs/results.md) as text.
// INVALID_ARGUMENT when it is not JSON.
absl::StatusOr<std::string> AnalysisTable(const std::string& analysis_json);

// At most `width` characters ("..." marks a cut); width <= 0 is no limit.
// Keeps a redrawn terminal line from wrapping.
std::string FitWidth(const std::string& line, int width);

// A watch's view of its job: folds the stream's snapshots and round events
// into the job's current state and says what to print. Not thread-safe.
class WatchProgress {
 public:
  // `now` is when the event arrived; the rate behind the ETA is measured
  // from these times, not the server's clock.
  void Apply(const v1::JobEvent& event, absl::Time now);

  const v1::Job& job() const { return job_; }
  bool ended() const { return IsEnded(job_.state()); }
  std::optional<double> EtaSeconds(absl::Time now) const;

  // The status line, like `replex run`'s progress:
  //   [round  40/400  10%] acceptance 0.41 0.38 | round trips 0 | ...
  //   ... | 95.1 ns/day | ETA 1m21s
  // With `bar_width` > 0, for a redrawn terminal line, a progress bar leads
  // and the per-pair acceptance (the part to lose when cut) goes last:
  //   [====>      ] round 40/400 10% | 95.1 ns/day | ETA 1m21s | ...
  std::string Line(absl::Time now, int bar_width = 0) const;

  // For logs, where lines cannot be redrawn: true about once per 5% of the
  // job, on each state change and at the end; each such moment once.
  bool TakeLogLine();

 private:
  // Adds one round's swap counts to the job's per-pair totals.
  void AddRound(const v1::RoundEvent& round);

  v1::Job job_;
  // Where this watch first saw the job, for the rate of rounds.
  std::optional<std::pair<int64_t, absl::Time>> first_seen_;
  std::optional<std::pair<int64_t, absl::Time>> last_seen_;
  int64_t logged_step_ = -1;
  int logged_state_ = -1;
};

}  // namespace replex::cli
