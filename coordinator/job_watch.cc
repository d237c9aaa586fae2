#include "coordinator/job_watch.h"

#include <utility>
#include <vector>

#include "google/protobuf/unknown_field_set.h"

namespace replex::coordinator {

JobWatch::Next JobWatch::Take(std::shared_ptr<const v1::JobEvent>* event,
                              absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(this, &JobWatch::ReadyLocked), timeout);
  if (!events_.empty()) {
    *event = PopLocked().event;
    return Next::kEvent;
  }
  return NothingLocked();
}

JobWatch::Event JobWatch::Event::Of(v1::JobEvent event) {
  Event shared;
  if (event.has_round()) {
    // Repeated fields concatenate: a RoundEvents of one round, serialized,
    // is that round's element of any RoundEvents.
    v1::RoundEvents one;
    *one.add_rounds() = event.round();
    shared.round_element =
        std::make_shared<const std::string>(one.SerializeAsString());
  }
  shared.event = std::make_shared<const v1::JobEvent>(std::move(event));
  shared.bytes = shared.event->ByteSizeLong();
  return shared;
}

JobWatch::Next JobWatch::TakeRounds(std::shared_ptr<const v1::JobEvent>* event,
                                    bool rounds_now) {
  std::vector<Event> rounds;
  {
    absl::MutexLock lock(&mu_);
    if (events_.empty()) return NothingLocked();
    if (!events_.front().event->has_round()) {
      *event = PopLocked().event;
      return Next::kEvent;
    }
    // Rounds that have filled half of what a watch may queue go now, so
    // that a prompt reader's batch is never coalesced away.
    if (!rounds_now && queued_bytes_ <= kMaxQueuedBytes / 2) {
      return Next::kLater;
    }
    while (!events_.empty() && events_.front().event->has_round()) {
      rounds.push_back(PopLocked());
    }
  }
  // Put together outside the lock (the job manager pushes under it), as
  // JobEvent.rounds in its unknown fields: serializing the batch for gRPC
  // then copies these bytes, and a client parses them as `rounds`.
  auto batch = std::make_shared<v1::JobEvent>();
  batch->set_job_id(rounds.front().event->job_id());
  std::string* elements =
      batch->GetReflection()
          ->MutableUnknownFields(batch.get())
          ->AddLengthDelimited(v1::JobEvent::kRoundsFieldNumber);
  for (const Event& round : rounds) elements->append(*round.round_element);
  *event = std::move(batch);
  return Next::kEvent;
}

JobWatch::Next JobWatch::NothingLocked() {
  if (end_.has_value()) return Next::kEnded;
  reader_waiting_ = true;
  return Next::kTimeout;
}

JobWatch::Event JobWatch::PopLocked() {
  Event event = std::move(events_.front());
  queued_bytes_ -= event.bytes;
  events_.pop_front();
  return event;
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
    const bool past_half = queued_bytes_ <= kMaxQueuedBytes / 2 &&
                           queued_bytes_ + event.bytes > kMaxQueuedBytes / 2;
    queued_bytes_ += event.bytes;
    events_.push_back(std::move(event));
    // A reader that has not yet found the queue empty takes this with the
    // rest; one holding rounds back for a batch is told when they pass half
    // the limit (TakeRounds then gives them).
    if (!std::exchange(reader_waiting_, false) && !past_half) return;
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
