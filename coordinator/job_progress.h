// The figures a v1::Job shows for a job's exchange so far, shared by the
// job manager (at submission) and each job's runner (every round).
#pragma once

#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"
#include "lib/runner/driver.h"
#include "replex/v1/job_service.pb.h"

namespace replex::coordinator {

// Rounds completed, acceptance per pair, round trips, ns/day and the
// permutation. Runs every round, so only O(n) work: no end-of-job summary
// (its eigen-solve is O(n^3)).
void SetProgress(const runner::RoundDriver& driver, double ns_per_day,
                 v1::Job& job);

void SetTimestamp(absl::Time time, google::protobuf::Timestamp* timestamp);

}  // namespace replex::coordinator
