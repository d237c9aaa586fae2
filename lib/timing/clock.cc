#include "lib/timing/clock.h"

#include <utility>

#include "absl/time/clock.h"

namespace replex::timing {

Clock* Clock::Real() {
  class RealClock : public Clock {
   public:
    absl::Time Now() override { return absl::Now(); }
  };
  static RealClock* const clock = new RealClock;
  return clock;
}

PeriodicTicker::PeriodicTicker(absl::Duration interval,
                               std::function<void()> tick)
    : thread_([this, interval, tick = std::move(tick)] {
        while (!stop_.WaitForNotificationWithTimeout(interval)) tick();
      }) {}

PeriodicTicker::~PeriodicTicker() {
  stop_.Notify();
  thread_.join();
}

}  // namespace replex::timing
