// One-line, timestamped log messages on stderr: connects, disconnects, jobs
// loaded and unloaded, drain progress and anything dropped on the floor.
#pragma once

#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace replex::worker {

template <typename... Args>
void Log(const absl::FormatSpec<Args...>& format, const Args&... args) {
  // One formatted write per line so lines from different threads never mix.
  const std::string line =
      absl::StrCat(absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ ", absl::Now(),
                                    absl::UTCTimeZone()),
                   "replex-worker: ", absl::StrFormat(format, args...), "\n");
  std::fputs(line.c_str(), stderr);
}

}  // namespace replex::worker
