#include "lib/timing/duration.h"

#include <cmath>
#include <cstdint>

#include "absl/strings/str_format.h"

namespace replex::timing {

std::string FormatDuration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "-";
  if (seconds < 10) return absl::StrFormat("%.1fs", seconds);
  const int64_t s = std::llround(seconds);
  if (s >= 86400) return absl::StrFormat("%dd%02dh", s / 86400, s / 3600 % 24);
  if (s >= 3600) return absl::StrFormat("%dh%02dm", s / 3600, s / 60 % 60);
  if (s >= 60) return absl::StrFormat("%dm%02ds", s / 60, s % 60);
  return absl::StrFormat("%ds", s);
}

}  // namespace replex::timing
