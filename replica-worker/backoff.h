// Reconnect delays: exponential backoff with jitter, so a restarted
// coordinator is not hit by every worker at the same instant.
#pragma once

#include <cstdint>
#include <random>

#include "absl/time/time.h"

namespace replex::worker {

// The n-th consecutive failure (n from 0) waits a uniformly random time in
// [d/2, d], d = min(max, initial * 2^n). Not thread-safe.
class Backoff {
 public:
  // `seed` makes the jitter reproducible in tests; workers pass something
  // that differs between processes.
  Backoff(absl::Duration initial, absl::Duration max, uint64_t seed);

  absl::Duration Next();
  // After a success: the next failure waits about `initial` again.
  void Reset() { failures_ = 0; }

 private:
  const absl::Duration initial_;
  const absl::Duration max_;
  int failures_ = 0;
  std::mt19937_64 random_;
};

}  // namespace replex::worker
