// Test doubles for the worker: a step-by-step executor, a HostOutput that
// records, a scripted coordinator (client and stream), message builders and
// the example job.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "lib/engine/engine.h"
#include "lib/exchange/ladder.h"
#include "lib/runner/driver.h"
#include "lib/threads/slot_pool.h"
#include "replex/v1/job.pb.h"
#include "replex/v1/worker.pb.h"
#include "replica-worker/coordinator_client.h"
#include "replica-worker/replica_host.h"

namespace replex::worker::testing {

// Runs nothing until told: tests decide exactly when work happens, so what
// is queued and what has run is never a matter of timing. Thread-safe.
class ManualExecutor : public threads::Executor {
 public:
  void Schedule(uint64_t affinity, std::function<void()> task) override;
  // Runs queued tasks, and the tasks they schedule, until none is left.
  // Returns how many ran.
  int RunAll();
  // Runs the oldest queued task; false if none was queued.
  bool RunOne();
  // The affinity of every task scheduled so far, in order.
  std::vector<uint64_t> affinities() const;

 private:
  mutable absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  std::vector<uint64_t> affinities_ ABSL_GUARDED_BY(mu_);
};

// Records what the host sends. Thread-safe.
class RecordingOutput : public HostOutput {
 public:
  // Called with each message as it is sent (without the recorder's lock), to
  // make something happen at exactly that point.
  void set_on_send(std::function<void(const v1::WorkerMessage&)> on_send);
  void Send(const v1::WorkerMessage& message) override;
  void OnIdle() override;
  std::vector<v1::WorkerMessage> messages() const;
  int idle_calls() const;

 private:
  mutable absl::Mutex mu_;
  std::vector<v1::WorkerMessage> messages_ ABSL_GUARDED_BY(mu_);
  int idle_calls_ ABSL_GUARDED_BY(mu_) = 0;
  std::function<void(const v1::WorkerMessage&)> on_send_ ABSL_GUARDED_BY(mu_);
};

// The coordinator's end of one fake Session stream, and the worker's end as
// a CoordinatorStream (Stream()). Thread-safe.
class FakeStreamPeer : public std::enable_shared_from_this<FakeStreamPeer> {
 public:
  using Predicate = std::function<bool(const std::vector<v1::WorkerMessage>&)>;

  // Coordinator side.
  void Push(const v1::CoordinatorMessage& message);
  // Ends the call with `status` (the coordinator finishes the RPC).
  void End(absl::Status status);
  // Blocks until `predicate(sent())` holds; false after a minute, which only
  // a broken worker takes.
  bool AwaitSent(const Predicate& predicate);
  // Blocks until the worker half-closed or cancelled the stream, or it
  // ended.
  bool AwaitClosed();
  // While held, the worker's Send blocks (a transport that takes nothing).
  void HoldSends(bool hold);
  // Blocks until a Send is waiting in the held transport.
  bool AwaitHeldSend();
  std::vector<v1::WorkerMessage> sent() const;
  // Parallel to sent(): the `more_follow` each message was sent with.
  std::vector<bool> more_follow() const;
  bool send_closed() const;
  bool cancelled() const;

  std::unique_ptr<CoordinatorStream> Stream();

 private:
  friend class FakeStream;
  bool Closed() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return send_closed_ || cancelled_ || ended_;
  }

  mutable absl::Mutex mu_;
  std::deque<v1::CoordinatorMessage> inbound_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::WorkerMessage> sent_ ABSL_GUARDED_BY(mu_);
  std::vector<bool> more_follow_ ABSL_GUARDED_BY(mu_);
  bool holding_sends_ ABSL_GUARDED_BY(mu_) = false;
  int held_sends_ ABSL_GUARDED_BY(mu_) = 0;  // Sends waiting while held
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status end_status_ ABSL_GUARDED_BY(mu_);
  bool send_closed_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
};

// Hands out FakeStreamPeers, failing the first connects when asked.
// Thread-safe.
class FakeCoordinatorClient : public CoordinatorClient {
 public:
  explicit FakeCoordinatorClient(int failing_connects = 0)
      : failing_connects_(failing_connects) {}

  absl::StatusOr<std::unique_ptr<CoordinatorStream>> Connect(
      absl::Duration timeout) override;
  std::string target() const override { return "fake-coordinator"; }

  // Blocks until stream `index` (from 0) has been opened.
  std::shared_ptr<FakeStreamPeer> AwaitStream(int index);
  // The latest stream opened, or null.
  std::shared_ptr<FakeStreamPeer> latest() const;
  // Blocks until at least `n` connection attempts were made.
  void AwaitAttempts(int n);

 private:
  mutable absl::Mutex mu_;
  int failing_connects_ ABSL_GUARDED_BY(mu_);
  int attempts_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::shared_ptr<FakeStreamPeer>> streams_ ABSL_GUARDED_BY(mu_);
};

// A job run straight through the engine and runner::ExecuteOrder: what the
// worker must reproduce bit for bit (Reference platform). Failures are test
// failures.
class DirectRun {
 public:
  explicit DirectRun(const v1::JobSpec& spec);

  std::unique_ptr<engine::Replica> Create(int rung, uint64_t seed);
  static runner::SegmentResult Execute(engine::Replica& replica,
                                       const v1::SegmentOrder& order);
  // `order` on a new replica created at `rung` from `seed`.
  runner::SegmentResult FirstSegment(int rung, uint64_t seed,
                                     const v1::SegmentOrder& order);
  // Save() serialized.
  static std::string State(engine::Replica& replica);

 private:
  engine::EngineOptions options_;
  std::shared_ptr<const engine::Model> model_;
  std::unique_ptr<exchange::Ladder> ladder_;
};

// The example job at `relative_path` in the source tree, defaults applied.
v1::JobSpec ExampleSpec(const std::string& relative_path);

v1::LoadJob MakeLoadJob(const std::string& job_id, const v1::JobSpec& spec);
v1::LoadReplica MakeLoadReplica(const std::string& job_id, int replica,
                                int64_t epoch, int rung, uint64_t velocity_seed,
                                const std::string& state = "");
v1::SegmentOrder MakeOrder(const std::string& job_id, int replica,
                           int64_t round, int64_t epoch, int rung, int steps,
                           uint64_t segment_seed,
                           const std::vector<int>& evaluate_rungs = {});
v1::ReleaseReplica MakeRelease(const std::string& job_id, int replica,
                               int64_t epoch, bool want_state);
v1::UnloadJob MakeUnload(const std::string& job_id);

// `message` (LoadJob, LoadReplica, ...) as the CoordinatorMessage carrying
// it.
v1::CoordinatorMessage Wrap(const google::protobuf::Message& message);
v1::CoordinatorMessage Welcome(int64_t heartbeat_interval_ms);

// How many of `messages` are of the given kind.
int Count(const std::vector<v1::WorkerMessage>& messages,
          v1::WorkerMessage::MessageCase kind);

}  // namespace replex::worker::testing
