// The worker's side of Coordinator.Session: connects (with backoff), sends
// Register, pumps the coordinator's messages into the ReplicaHost, sends
// heartbeats, reconnects when the stream breaks, and drains gracefully.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "replex/v1/worker.pb.h"
#include "replica-worker/backoff.h"
#include "replica-worker/coordinator_client.h"
#include "replica-worker/replica_host.h"

namespace replex::worker {

struct SessionOptions {
  // Sent as the first message of every session.
  v1::Register registration;
  absl::Duration initial_backoff = absl::Milliseconds(500);
  absl::Duration max_backoff = absl::Seconds(30);
  uint64_t jitter_seed = 0;
  // How long one connection attempt may wait for the coordinator; short so
  // a drain while disconnected is prompt (the channel keeps connecting in
  // the background between attempts).
  absl::Duration connect_timeout = absl::Seconds(2);
  // From Drain() on: how long to wait for the coordinator to take every
  // replica back (and for running segments) before leaving anyway.
  absl::Duration drain_grace = absl::Seconds(30);
  // Once the drain ends: how long the writer gets to write what is queued
  // (the Goodbye, the last replicas' states) and half-close, and the
  // coordinator to end the stream in answer, before the call is cancelled
  // and whatever is still queued is dropped with it.
  absl::Duration close_timeout = absl::Seconds(5);
};

// Lifecycle of one worker process's connection to the coordinator.
//
// Per connection: Register is sent first (host messages wait until it is);
// Welcome sets the heartbeat interval; LoadJob, LoadReplica, SegmentOrder,
// ReleaseReplica and UnloadJob go to the host, which never blocks the reader
// on engine work. When the stream breaks, everything the host holds is
// dropped (the coordinator reassigns those replicas with new epochs) and the
// session reconnects after a backoff that resets at each Welcome.
//
// Drain: send Goodbye (the coordinator then places nothing new here, answers
// GoodbyeAck and moves the replicas away at their jobs' next round
// boundaries), keep serving orders and releases meanwhile, and close the
// stream (WritesDone) once the Goodbye is acknowledged and the host is idle
// -- every replica released -- or drain_grace has passed; then
// Run returns. Reconnecting stops once a drain has begun.
//
// Writes: Send queues the message and returns; a writer thread per
// connection writes the queue in order, corking all but the last message it
// finds, so the slot thread that finished a segment goes on to the next at
// once and messages that pile up meanwhile leave in a few packets. The queue
// holds what the host has sent and the transport has not taken: at most a
// few messages per hosted replica, since the coordinator orders a replica's
// next segment only after its last result.
//
// Thread-safe: Run on one thread; Drain, Send and OnIdle from any.
class Session : public HostOutput {
 public:
  // `client` must outlive the session.
  Session(CoordinatorClient* client, SessionOptions options);

  // Runs connections until a drain completes. `host` must use this session
  // as its HostOutput and outlive Run.
  void Run(ReplicaHost* host);
  // Starts a graceful drain and returns at once (safe to call before Run).
  void Drain();

  // HostOutput: sends on the current stream once it is registered; dropped
  // between connections (the coordinator fences stale results by epoch).
  void Send(const v1::WorkerMessage& message) override;
  void OnIdle() override;

 private:
  struct ConnectionEnd {
    bool drained;         // a drain ended it: Run returns
    absl::Status status;  // why the stream ended
  };
  // One connection, from Register to the end of the stream.
  ConnectionEnd RunConnection(CoordinatorStream& stream, ReplicaHost* host);
  // Reader thread: receives until the stream ends, dispatching each message.
  void ReadLoop(CoordinatorStream& stream, ReplicaHost* host);
  // Writer thread: writes the outbox until the connection ends or, once a
  // close is asked for, until it is empty; then half-closes.
  void WriteLoop(CoordinatorStream& stream);
  void Dispatch(const v1::CoordinatorMessage& message, ReplicaHost* host);

  // What the connection's supervisor wakes up for.
  bool SupervisorHasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool DrainRequested() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return draining_;
  }
  bool StreamEnded() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stream_ended_;
  }
  bool WriterHasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(send_mu_) {
    return !outbox_.empty() || closing_ || !writing_;
  }

  CoordinatorClient* const client_;
  const SessionOptions options_;

  absl::Mutex mu_;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time drain_deadline_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  bool goodbye_sent_ ABSL_GUARDED_BY(mu_) = false;
  bool goodbye_acked_ ABSL_GUARDED_BY(mu_) = false;  // GoodbyeAck received
  bool host_idle_hint_ ABSL_GUARDED_BY(mu_) = false;
  bool stream_ended_ ABSL_GUARDED_BY(mu_) = false;
  // Heartbeat interval from the latest Welcome (zero: none), and whether
  // the supervisor has seen it yet.
  absl::Duration heartbeat_interval_ ABSL_GUARDED_BY(mu_);
  bool welcome_pending_ ABSL_GUARDED_BY(mu_) = false;
  Backoff backoff_ ABSL_GUARDED_BY(mu_);

  // The writer's queue. Send queues only while writing_ (from a
  // connection's start, where Register is written before the queue, to its
  // end or a failed write) and not closing_ (the half-close asked for by a
  // finished drain).
  absl::Mutex send_mu_ ABSL_ACQUIRED_AFTER(mu_);
  std::vector<v1::WorkerMessage> outbox_ ABSL_GUARDED_BY(send_mu_);
  bool writing_ ABSL_GUARDED_BY(send_mu_) = false;
  bool closing_ ABSL_GUARDED_BY(send_mu_) = false;
};

}  // namespace replex::worker
