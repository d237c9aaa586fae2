#include "coordinator/job_watch.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace replex::coordinator {

JobWatch::Next JobWatch::Take(v1::JobEvent* event, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(this, &JobWatch::ReadyLocked), timeout);
  if (!events_.empty()) {
    *event = std::move(events_.front());
    events_.pop_front();
    queued_bytes_ -= std::min(queued_bytes_, event->ByteSizeLong());
    return Next::kEvent;
  }
  return end_.has_value() ? Next::kEnded : Next::kTimeout;
}

absl::Status JobWatch::end_status() const {
  absl::MutexLock lock(&mu_);
  return end_.value_or(absl::OkStatus());
}

void JobWatch::Cancel() { End(absl::CancelledError("the watcher went away")); }

void JobWatch::Push(v1::JobEvent event, const v1::Job& now) {
  absl::MutexLock lock(&mu_);
  if (end_.has_value()) return;
  const size_t bytes = event.ByteSizeLong();
  if (queued_bytes_ + bytes > kMaxQueuedBytes && !events_.empty()) {
    // Coalesce: the unread events and this one become the job as it is.
    events_.clear();
    event.clear_round();
    *event.mutable_snapshot() = now;
    queued_bytes_ = event.ByteSizeLong();
    events_.push_back(std::move(event));
    return;
  }
  queued_bytes_ += bytes;
  events_.push_back(std::move(event));
}

void JobWatch::End(absl::Status status) {
  absl::MutexLock lock(&mu_);
  if (!end_.has_value()) end_ = std::move(status);
}

size_t JobWatch::queued_bytes() const {
  absl::MutexLock lock(&mu_);
  return queued_bytes_;
}

bool JobWatch::ended() const {
  absl::MutexLock lock(&mu_);
  return end_.has_value();
}

}  // namespace replex::coordinator
