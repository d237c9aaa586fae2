// The worker's domain logic: which jobs and replicas this process hosts and
// what it does with the coordinator's messages. No gRPC here: messages arrive
// as replex.v1 protos through one method per kind and leave through
// HostOutput, so the session only pumps a stream and tests drive the host
// directly.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "lib/engine/engine.h"
#include "lib/exchange/ladder.h"
#include "lib/runner/driver.h"
#include "lib/threads/slot_pool.h"
#include "lib/wire/wire.h"
#include "replex/v1/worker.pb.h"

namespace replex::worker {

// The engine options of one hosted replica: the job's, with one of the
// worker's `devices` as DeviceIndex on GPU platforms, device affinity mod
// devices (`affinity`, the same number that keeps a replica on one slot
// thread, so with slots a multiple of devices each slot drives one device).
// A DeviceIndex the job sets itself wins.
engine::EngineOptions ReplicaEngineOptions(
    const engine::EngineOptions& job_options,
    const std::vector<std::string>& devices, uint64_t affinity);

// Where the host's messages go (the session's current stream).
class HostOutput {
 public:
  virtual ~HostOutput() = default;
  // Called from executor threads (or from the caller of Release or
  // LoadReplica, when dropping an order completes a held round), never with
  // the host's lock held, so it may block on the network. Messages are sent
  // one at a time, in the order their work happened. Must be thread-safe.
  virtual void Send(const v1::WorkerMessage& message) = 0;
  // Called, without the host's lock, each time the host becomes idle (see
  // ReplicaHost::idle), so a draining session need not poll.
  virtual void OnIdle() {}
};

struct HostOptions {
  // Segments run concurrently; CPU Contexts get cores / slots threads each
  // (runner::EngineOptionsFor).
  int slots = 1;
  // Replicas hosted at once, not counting those being released (the
  // coordinator reuses a freed place right after its ReleaseReplica);
  // LoadReplica beyond this fails the replica's orders with
  // RESOURCE_EXHAUSTED.
  int max_replicas = 256;
  // OpenCL/CUDA devices; each replica's Context gets one of them as
  // DeviceIndex (ReplicaEngineOptions) unless the
  // job's platform_properties sets one.
  std::vector<std::string> devices;
  // A round's held results (SegmentOrder.batch_result) leave early once they
  // reach this many bytes (wire::kMaxBatchBytes says why).
  size_t max_held_bytes = wire::kMaxBatchBytes;
};

// Hosts jobs (a parsed Model each, loaded on first use) and replicas (one
// engine::Replica each, keyed by job and replica index, tagged with the epoch
// of their assignment) and carries out the coordinator's messages:
//
//  * Each replica has a queue of work (load, segments, release) that runs in
//    order, one item at a time, on the executor; different replicas run in
//    parallel up to the executor's slots. No method blocks on engine work.
//  * Orders for a replica that is not hosted, or tagged with another epoch,
//    or with a round not above the last one accepted for that epoch
//    (duplicates), are dropped: messages are idempotent.
//  * Draining changes nothing here: the session's Goodbye asks the
//    coordinator to move the replicas away, and until it has, they keep
//    serving orders (dropping them would stall their jobs' rounds).
//  * Failures become SegmentFailed for the order that meets them;
//    invalid_input is set for INVALID_ARGUMENT, i.e. when the job itself is
//    wrong (unreadable System, unknown ladder parameter, bad rung).
//  * Results of orders with batch_result (a synchronous round's, which the
//    coordinator waits for together) are held until this host's last order
//    of that job and round has ended, then sent in one SegmentDones. Any
//    other message is sent after whatever is held, so nothing overtakes a
//    held result.
//
// Thread-safe.
class ReplicaHost {
 public:
  // `output` must outlive the host. The executor is owned and shut down
  // first on destruction, so no work runs against a half-destroyed host.
  ReplicaHost(HostOptions options, std::unique_ptr<threads::Executor> executor,
              HostOutput* output);
  ~ReplicaHost();
  ReplicaHost(const ReplicaHost&) = delete;
  ReplicaHost& operator=(const ReplicaHost&) = delete;

  // Remembers the job's spec and ladder; the Model is parsed by the first
  // LoadReplica that needs it (on the executor, not the caller's thread). A
  // second LoadJob for a hosted job is ignored.
  void LoadJob(const v1::LoadJob& message);
  // Remembers a new version of a loaded job's adaptive ladder; orders name
  // the version they run at (SegmentOrder.ladder_version). An unusable one
  // fails the orders that name it.
  void UpdateLadder(const v1::LadderUpdate& message);
  // Hosts a replica: creates its Context at `rung` (velocities from
  // velocity_seed), then restores `state` when given. Replaces a hosted copy
  // with an older epoch; ignored for the same or an older epoch.
  void LoadReplica(const v1::LoadReplica& message);
  // Queues a segment; on completion sends SegmentDone (or holds it, see
  // above) or SegmentFailed.
  void Order(const v1::SegmentOrder& message);
  // Order for each of a round's orders, under one lock, so that none of
  // them can end before the others are counted into their held round.
  void Orders(const v1::SegmentOrders& message);
  // Cancels the replica's queued (not yet started) orders and queues the
  // release behind the running one (the caller does not wait): it sends a
  // ReplicaStateReport when want_state, then stops hosting the replica.
  // Ignored unless the epoch matches.
  void Release(const v1::ReleaseReplica& message);
  // Drops the job, its replicas and their queued work; a running segment of
  // the job stops within engine::Replica::kStopCheckSteps steps and nothing
  // is sent for it.
  void UnloadJob(const v1::UnloadJob& message);

  // Forgets every job and replica (the session ended: the coordinator will
  // reassign them with new epochs); running segments stop unreported.
  void DropAll();

  // Nothing hosted, no work running and nothing waiting to be sent.
  bool idle() const;
  int hosted_replicas() const;
  int hosted_jobs() const;

 private:
  struct Job;
  struct Hosted;
  using Work =
      std::variant<v1::LoadReplica, v1::SegmentOrder, v1::ReleaseReplica>;
  using Key = std::pair<std::string, int>;  // (job_id, replica)

  // The results held for one job's round (SegmentOrder.batch_result): its
  // orders accepted here and not yet ended, and the SegmentDones of those
  // that have.
  struct HeldRound {
    int open = 0;
    v1::WorkerMessage results;  // a SegmentDones
    size_t bytes = 0;           // of `results`' SegmentDones, serialized
  };
  using RoundKey = std::pair<std::string, int64_t>;  // (job_id, round)

  // LoadReplica's work; a superseded copy is returned in `superseded`.
  void LoadReplicaLocked(const v1::LoadReplica& message,
                         std::shared_ptr<Hosted>* superseded)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OrderLocked(const v1::SegmentOrder& message)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Counts an accepted batch_result order of round `key` as ended, keeping
  // `done` (its SegmentDone, if it has one) with the round's; queues the
  // round's SegmentDones when it was the round's last open order here, or
  // when they reach max_held_bytes.
  void EndHeldLocked(const RoundKey& key, std::optional<v1::WorkerMessage> done)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // EndHeldLocked, with no result, for each batch_result order in `queue`
  // (orders dropped without running).
  void EndQueuedLocked(const std::deque<Work>& queue)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Queues every held SegmentDone (before another message, so that it does
  // not overtake them); their rounds stay open.
  void TakeHeldLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sends outbox_ unless another thread is sending it; then, if the host is
  // idle, says so (OnIdle).
  void SendQueued() ABSL_LOCKS_EXCLUDED(mu_);

  // Appends work to the replica's queue and schedules it if it is not
  // already scheduled.
  void Enqueue(const std::shared_ptr<Hosted>& hosted, Work work)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Executor task: runs the replica's next queued work item.
  void RunNext(const std::shared_ptr<Hosted>& hosted);
  // The work itself, with no lock held; returns the message to send, if any.
  std::optional<v1::WorkerMessage> Load(Hosted& hosted,
                                        const v1::LoadReplica& message);
  std::optional<v1::WorkerMessage> Segment(Hosted& hosted,
                                           const v1::SegmentOrder& message);
  std::optional<v1::WorkerMessage> SaveState(Hosted& hosted,
                                             const v1::ReleaseReplica& message);
  // Marks `hosted` dropped and removes it from replicas_ if it is the hosted
  // copy; the returned pointer lets the caller destroy its Context after
  // unlocking. By value: callers pass replicas_'s own element, which the
  // erase destroys. Its queued and running orders end unreported in held_
  // at once (a running one stops later, uncounted).
  std::shared_ptr<Hosted> DropLocked(std::shared_ptr<Hosted> hosted)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool IdleLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Replicas that count against max_replicas: hosted and not being released.
  int HostingLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The hosted replica `job_id`/`replica` if its epoch is `epoch`, else null
  // (logging why the message naming it is dropped).
  std::shared_ptr<Hosted> FindLocked(const std::string& job_id, int replica,
                                     int64_t epoch, const char* what) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const HostOptions options_;
  HostOutput* const output_;

  mutable absl::Mutex mu_;
  std::map<RoundKey, HeldRound> held_ ABSL_GUARDED_BY(mu_);
  // Messages in the order their work happened, sent by one thread at a time
  // (the one that found none sending), without mu_ held: so Send may block,
  // a Send may lead to more work (a Release), and nothing overtakes.
  std::deque<v1::WorkerMessage> outbox_ ABSL_GUARDED_BY(mu_);
  bool sending_ ABSL_GUARDED_BY(mu_) = false;
  std::map<std::string, std::shared_ptr<Job>> jobs_ ABSL_GUARDED_BY(mu_);
  std::map<Key, std::shared_ptr<Hosted>> replicas_ ABSL_GUARDED_BY(mu_);
  int running_ ABSL_GUARDED_BY(mu_) = 0;  // work items executing now
  // The slot (affinity) a replica loaded now gets: the one hosting fewest
  // replicas, the lowest such, so the slots' loads stay even as replicas
  // come and go (pinned slots run only their own replicas).
  uint64_t LeastLoadedSlotLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Last member: destroyed first, while everything its tasks touch exists.
  std::unique_ptr<threads::Executor> executor_;
};

}  // namespace replex::worker
