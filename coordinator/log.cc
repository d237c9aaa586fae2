#include "coordinator/log.h"

#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace replex::coordinator {

void LogLine(absl::string_view line) {
  const std::string text =
      absl::StrCat(absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(),
                                    absl::UTCTimeZone()),
                   " ", line, "\n");
  // One fwrite per line: stdio locks the stream for the call.
  std::fwrite(text.data(), 1, text.size(), stderr);
}

}  // namespace replex::coordinator
