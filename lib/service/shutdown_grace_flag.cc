// --shutdown_grace (process_flags.h).
#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "lib/service/process_flags.h"

ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(10),
          "On SIGTERM, how long work in flight gets before the process "
          "leaves anyway: calls in flight on a server; on a worker, handing "
          "its replicas back to the coordinator (e.g. 30s, 2m).");

namespace replex::service {

void SetShutdownGraceDefault(absl::Duration grace) {
  absl::SetFlag(&FLAGS_shutdown_grace, grace);
}

absl::StatusOr<absl::Duration> ShutdownGraceFromFlags() {
  const absl::Duration grace = absl::GetFlag(FLAGS_shutdown_grace);
  if (grace < absl::ZeroDuration() || grace == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--shutdown_grace is ", absl::FormatDuration(grace),
                     "; give a finite duration >= 0, e.g. 10s"));
  }
  return grace;
}

}  // namespace replex::service
