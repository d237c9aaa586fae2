// Time as replex's services see it. Injected wherever time is read for a
// decision or a measure (heartbeat timeouts, job timestamps, checkpoint and
// segment durations, drain deadlines), so tests use testing::FakeClock and
// never sleep to wait for a timeout.
#pragma once

#include <functional>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace replex::timing {

// Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() = 0;

  // The wall clock; never destroyed.
  static Clock* Real();
};

// Calls `tick` every `interval` on its own thread until destroyed (e.g. the
// coordinator's heartbeats). Thread-safe.
class PeriodicTicker {
 public:
  PeriodicTicker(absl::Duration interval, std::function<void()> tick);
  ~PeriodicTicker();
  PeriodicTicker(const PeriodicTicker&) = delete;
  PeriodicTicker& operator=(const PeriodicTicker&) = delete;

 private:
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace replex::timing
