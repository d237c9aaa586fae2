#include "replica-worker/session.h"

#include <algorithm>
#include <thread>
#include <utility>

#include "absl/time/clock.h"
#include "lib/service/process.h"

namespace replex::worker {

Session::Session(CoordinatorClient* client, SessionOptions options)
    : client_(client),
      options_(std::move(options)),
      backoff_(options_.initial_backoff, options_.max_backoff,
               options_.jitter_seed) {}

void Session::Run(ReplicaHost* host) {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (draining_) {
        service::Log("draining while disconnected: nothing to hand back");
        return;
      }
    }
    absl::StatusOr<std::unique_ptr<CoordinatorStream>> stream =
        client_->Connect(options_.connect_timeout);
    absl::Status why = stream.status();
    if (stream.ok()) {
      const ConnectionEnd end = RunConnection(**stream, host);
      if (end.drained) {
        service::Log("disconnected from %s after draining (%s)",
                     client_->target(), end.status.ToString());
        return;
      }
      why = end.status;
    }
    absl::Duration delay;
    {
      absl::MutexLock lock(&mu_);
      delay = backoff_.Next();
    }
    service::Log("%s %s (%s); retrying in %s",
                 stream.ok() ? "disconnected from" : "cannot connect to",
                 client_->target(), why.ToString(),
                 absl::FormatDuration(delay));
    // A drain cuts the wait short.
    mu_.LockWhenWithTimeout(absl::Condition(this, &Session::DrainRequested),
                            delay);
    mu_.Unlock();
  }
}

void Session::Drain() {
  absl::MutexLock lock(&mu_);
  if (draining_) return;
  draining_ = true;
  drain_deadline_ = absl::Now() + options_.drain_grace;
}

void Session::Send(const v1::WorkerMessage& message) {
  absl::MutexLock lock(&send_mu_);
  if (writing_ && !closing_) outbox_.push_back(message);
}

void Session::OnIdle() {
  absl::MutexLock lock(&mu_);
  host_idle_hint_ = true;
}

bool Session::SupervisorHasWork() const {
  return stream_ended_ || welcome_pending_ || (draining_ && !goodbye_sent_) ||
         (goodbye_sent_ && host_idle_hint_);
}

Session::ConnectionEnd Session::RunConnection(CoordinatorStream& stream,
                                              ReplicaHost* host) {
  {
    absl::MutexLock lock(&mu_);
    stream_ended_ = false;
    goodbye_sent_ = false;
    goodbye_acked_ = false;
    host_idle_hint_ = false;
    welcome_pending_ = false;
    heartbeat_interval_ = absl::ZeroDuration();
  }
  {
    absl::MutexLock lock(&send_mu_);
    outbox_.clear();
    closing_ = false;
    writing_ = true;
  }
  v1::WorkerMessage hello;
  *hello.mutable_register_() = options_.registration;
  // Register goes first, and alone (never corked: gRPC's synchronous API
  // would hold back the call's start, grpc/grpc#12975); the writer starts
  // after it, so what the host sends meanwhile waits in the queue.
  if (!stream.Send(hello, /*more_follow=*/false)) {
    absl::MutexLock lock(&send_mu_);
    writing_ = false;  // the reader sees the stream end
  }
  std::thread reader([this, &stream, host] { ReadLoop(stream, host); });
  std::thread writer([this, &stream] { WriteLoop(stream); });

  // The supervisor: heartbeats and the drain, until the stream ends.
  absl::Time next_heartbeat = absl::InfiniteFuture();
  absl::Duration interval;
  bool ended = false;
  while (true) {
    bool welcomed, start_drain, goodbye_sent, acked;
    absl::Time deadline;
    {
      absl::MutexLock lock(&mu_);
      const absl::Time wake = goodbye_sent_
                                  ? std::min(next_heartbeat, drain_deadline_)
                                  : next_heartbeat;
      mu_.AwaitWithDeadline(absl::Condition(this, &Session::SupervisorHasWork),
                            wake);
      ended = stream_ended_;
      welcomed = std::exchange(welcome_pending_, false);
      interval = heartbeat_interval_;
      start_drain = draining_ && !goodbye_sent_;
      if (start_drain) goodbye_sent_ = true;
      goodbye_sent = goodbye_sent_;
      acked = goodbye_acked_;
      host_idle_hint_ = false;
      deadline = drain_deadline_;
    }
    if (ended) break;
    const absl::Time now = absl::Now();
    if (welcomed) {
      next_heartbeat = interval > absl::ZeroDuration() ? now + interval
                                                       : absl::InfiniteFuture();
    }
    if (start_drain) {
      v1::WorkerMessage goodbye;
      goodbye.mutable_goodbye()->set_reason("draining (SIGTERM)");
      Send(goodbye);
      service::Log(
          "draining: sent Goodbye; %d replicas hosted, waiting up to %s",
          host->hosted_replicas(),
          absl::FormatDuration(std::max(deadline - now, absl::ZeroDuration())));
    }
    // Idle only counts once the coordinator has acknowledged the Goodbye:
    // a replica it placed here before seeing the Goodbye may still be on
    // its way, and leaving before it arrives would strand it.
    if (goodbye_sent && ((acked && host->idle()) || now >= deadline)) {
      if (host->idle()) {
        service::Log("drained: every replica released; closing the stream");
      } else {
        service::Log(
            "drain grace ended with %d replicas hosted; closing the stream",
            host->hosted_replicas());
      }
      {
        // The writer half-closes once what is queued (the last replica's
        // state among it) is written.
        absl::MutexLock lock(&send_mu_);
        closing_ = true;
      }
      // The coordinator ends the call in answer; don't wait forever for it.
      mu_.LockWhenWithTimeout(absl::Condition(this, &Session::StreamEnded),
                              options_.close_timeout);
      ended = stream_ended_;
      mu_.Unlock();
      break;
    }
    if (now >= next_heartbeat) {
      v1::WorkerMessage heartbeat;
      heartbeat.mutable_heartbeat()->set_sent_unix_ms(absl::ToUnixMillis(now));
      Send(heartbeat);
      next_heartbeat = now + interval;
    }
  }
  // Cancelling an ended call could replace the coordinator's status.
  if (!ended) stream.Cancel();
  {
    absl::MutexLock lock(&send_mu_);
    writing_ = false;  // what is still queued is dropped with the connection
  }
  writer.join();
  reader.join();
  ConnectionEnd end{false, stream.Finish()};
  host->DropAll();
  absl::MutexLock lock(&mu_);
  end.drained = draining_;
  return end;
}

void Session::WriteLoop(CoordinatorStream& stream) {
  std::vector<v1::WorkerMessage> batch;
  while (true) {
    bool close;
    {
      absl::MutexLock lock(&send_mu_);
      send_mu_.Await(absl::Condition(this, &Session::WriterHasWork));
      if (!writing_) return;
      batch.swap(outbox_);
      close = closing_;
    }
    for (size_t i = 0; i < batch.size(); ++i) {
      if (!stream.Send(batch[i], /*more_follow=*/i + 1 < batch.size())) {
        // The reader sees the stream end and the connection is torn down.
        absl::MutexLock lock(&send_mu_);
        writing_ = false;
        return;
      }
    }
    batch.clear();
    if (close) {
      stream.CloseSend();
      return;
    }
  }
}

void Session::ReadLoop(CoordinatorStream& stream, ReplicaHost* host) {
  v1::CoordinatorMessage message;
  while (stream.Receive(&message)) Dispatch(message, host);
  absl::MutexLock lock(&mu_);
  stream_ended_ = true;
}

void Session::Dispatch(const v1::CoordinatorMessage& message,
                       ReplicaHost* host) {
  switch (message.message_case()) {
    case v1::CoordinatorMessage::kWelcome: {
      const absl::Duration interval =
          absl::Milliseconds(message.welcome().heartbeat_interval_ms());
      service::Log("connected to %s as worker %s (heartbeat every %s)",
                   client_->target(), message.welcome().worker_id(),
                   absl::FormatDuration(interval));
      absl::MutexLock lock(&mu_);
      heartbeat_interval_ = interval;
      welcome_pending_ = true;
      backoff_.Reset();
      return;
    }
    case v1::CoordinatorMessage::kLoadJob:
      return host->LoadJob(message.load_job());
    case v1::CoordinatorMessage::kLadderUpdate:
      return host->UpdateLadder(message.ladder_update());
    case v1::CoordinatorMessage::kLoadReplica:
      return host->LoadReplica(message.load_replica());
    case v1::CoordinatorMessage::kSegmentOrders:
      return host->Orders(message.segment_orders());
    case v1::CoordinatorMessage::kReleaseReplica:
      return host->Release(message.release_replica());
    case v1::CoordinatorMessage::kUnloadJob:
      return host->UnloadJob(message.unload_job());
    case v1::CoordinatorMessage::kHeartbeat:
      return;  // the stream being alive is all it says
    case v1::CoordinatorMessage::kGoodbyeAck: {
      absl::MutexLock lock(&mu_);
      goodbye_acked_ = true;
      host_idle_hint_ = true;  // wakes the supervisor to check idleness
      return;
    }
    case v1::CoordinatorMessage::MESSAGE_NOT_SET:
      // A message kind newer than this worker: ignoring it is the proto3 way.
      service::Log("ignored a coordinator message of an unknown kind");
      return;
  }
}

}  // namespace replex::worker
