// A job's exchange analysis as one message (replex.v1.Analysis): built from
// its statistics, written as analysis.json and by `replex run --json`, read
// back by `replexctl report`, and shown as text by both `replex run` and
// `replexctl report`.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "lib/exchange/ladder.h"
#include "lib/exchange/statistics.h"
#include "lib/runner/report.h"
#include "replex/v1/analysis.pb.h"
#include "replex/v1/job.pb.h"

namespace replex::results {

// u_kln and the transition matrix grow as rungs^2; above this many rungs
// they are left out.
inline constexpr int kMaxMatrixRungs = 256;

// The analysis of `spec`'s job after `result` (runner::Summarize of
// `statistics`). `state` is "RUNNING" until the job ends. An adaptive
// ladder's `versions` (empty for a fixed one) give the temperatures (the
// last version's, in place of `ladder`'s) and analysis.ladder_versions;
// `statistics` are then of the last version's rounds.
v1::Analysis MakeAnalysis(const v1::JobSpec& spec,
                          const exchange::Ladder& ladder,
                          const std::vector<runner::LadderVersion>& versions,
                          const runner::RunResult& result,
                          const exchange::Statistics& statistics,
                          const std::string& job_id, const std::string& state);

// Protobuf's JSON under the proto field names, every field present; one
// line, or indented for a file people read.
std::string AnalysisJson(const v1::Analysis& analysis, bool indented);

// INVALID_ARGUMENT naming the problem when `json` is not an analysis.
// Unknown fields are ignored, so an older replexctl reads a newer file.
absl::StatusOr<v1::Analysis> ParseAnalysis(absl::string_view json);

// The summary people read: the job line, acceptance per neighbour pair with
// each rung's temperature and parameters, round trips, the second
// eigenvalue, throughput and where each replica is now.
std::string AnalysisText(const v1::Analysis& analysis);

}  // namespace replex::results
