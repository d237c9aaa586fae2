#include "replica-worker/backoff.h"

#include <algorithm>

namespace replex::worker {

Backoff::Backoff(absl::Duration initial, absl::Duration max, uint64_t seed)
    : initial_(std::max(initial, absl::ZeroDuration())),
      max_(std::max(max, initial_)),
      random_(seed) {}

absl::Duration Backoff::Next() {
  absl::Duration ceiling = initial_;
  // Doubling stops at max_, which also keeps the shift from overflowing.
  for (int i = 0; i < failures_ && ceiling < max_; ++i) ceiling *= 2;
  ceiling = std::min(ceiling, max_);
  // Beyond 64 doublings every ceiling is max_ (or zero): stop counting.
  failures_ = std::min(failures_ + 1, 64);
  const double fraction =
      std::uniform_real_distribution<double>(0.5, 1.0)(random_);
  return ceiling * fraction;
}

}  // namespace replex::worker
