#include "coordinator/job_watch.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace replex::coordinator {

JobWatch::Next JobWatch::Take(v1::JobEvent* event, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(this, &JobWatch::ReadyLocked), timeout);
  if (!events_.empty()) {
    *event = std::move(events_.front());
    events_.pop_front();
    return Next::kEvent;
  }
  return end_.has_value() ? Next::kEnded : Next::kTimeout;
}

absl::Status JobWatch::end_status() const {
  absl::MutexLock lock(&mu_);
  return end_.value_or(absl::OkStatus());
}

void JobWatch::Cancel() { End(absl::CancelledError("the watcher went away")); }

void JobWatch::Push(v1::JobEvent event) {
  absl::MutexLock lock(&mu_);
  if (end_.has_value()) return;
  if (events_.size() >= kMaxQueuedEvents) {
    end_ = absl::ResourceExhaustedError(absl::StrCat(
        "this watcher fell ", kMaxQueuedEvents,
        " events behind; watch the job again to resume from a snapshot"));
    return;
  }
  events_.push_back(std::move(event));
}

void JobWatch::End(absl::Status status) {
  absl::MutexLock lock(&mu_);
  if (!end_.has_value()) end_ = std::move(status);
}

bool JobWatch::ended() const {
  absl::MutexLock lock(&mu_);
  return end_.has_value();
}

}  // namespace replex::coordinator
