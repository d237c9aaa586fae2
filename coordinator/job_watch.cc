#include "coordinator/job_watch.h"

#include <utility>

namespace replex::coordinator {

JobWatch::Next JobWatch::Take(std::shared_ptr<const v1::JobEvent>* event,
                              absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(this, &JobWatch::ReadyLocked), timeout);
  if (!events_.empty()) {
    *event = std::move(events_.front().event);
    queued_bytes_ -= events_.front().bytes;
    events_.pop_front();
    return Next::kEvent;
  }
  return end_.has_value() ? Next::kEnded : Next::kTimeout;
}

absl::Status JobWatch::end_status() const {
  absl::MutexLock lock(&mu_);
  return end_.value_or(absl::OkStatus());
}

void JobWatch::Listen(std::weak_ptr<Listener> listener) {
  {
    absl::MutexLock lock(&mu_);
    listener_ = std::move(listener);
  }
  Notify();
}

void JobWatch::Notify() {
  std::shared_ptr<Listener> listener;
  {
    absl::MutexLock lock(&mu_);
    listener = listener_.lock();
  }
  if (listener != nullptr) listener->Ready();
}

void JobWatch::Cancel() { End(absl::CancelledError("the watcher went away")); }

void JobWatch::Push(Event event, const v1::Job& now) {
  {
    absl::MutexLock lock(&mu_);
    if (end_.has_value()) return;
    if (queued_bytes_ + event.bytes > kMaxQueuedBytes && !events_.empty()) {
      // Coalesce: the unread events and this one become the job as it is.
      v1::JobEvent snapshot;
      snapshot.set_job_id(event.event->job_id());
      *snapshot.mutable_snapshot() = now;
      events_.clear();
      event = Event::Of(std::move(snapshot));
      queued_bytes_ = 0;
    }
    queued_bytes_ += event.bytes;
    events_.push_back(std::move(event));
  }
  Notify();
}

void JobWatch::End(absl::Status status) {
  {
    absl::MutexLock lock(&mu_);
    if (end_.has_value()) return;
    end_ = std::move(status);
  }
  Notify();
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
