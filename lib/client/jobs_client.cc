#include "lib/client/jobs_client.h"

#include <utility>

namespace replex::client {

void StopSignal::Stop(absl::Status reason) {
  absl::MutexLock lock(&mu_);
  if (stopped_) return;
  stopped_ = true;
  reason_ = reason.ok() ? absl::CancelledError("stopped") : std::move(reason);
  if (interrupt_) interrupt_();
}

bool StopSignal::stopped() const {
  absl::MutexLock lock(&mu_);
  return stopped_;
}

absl::Status StopSignal::reason() const {
  absl::MutexLock lock(&mu_);
  return reason_;
}

bool StopSignal::WaitForStop(absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(&stopped_), timeout);
}

StopSignal::Interrupt::Interrupt(StopSignal& signal,
                                 std::function<void()> interrupt)
    : signal_(signal) {
  absl::MutexLock lock(&signal_.mu_);
  if (signal_.stopped_) interrupt();
  signal_.interrupt_ = std::move(interrupt);
}

StopSignal::Interrupt::~Interrupt() {
  absl::MutexLock lock(&signal_.mu_);
  signal_.interrupt_ = nullptr;
}

}  // namespace replex::client
