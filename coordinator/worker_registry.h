// The replica-workers connected to this coordinator and the replicas placed
// on them. Workers dial in and hold one Coordinator.Session stream each; the
// gRPC adapter (coordinator_service) moves messages between that stream and
// this registry, which holds all the logic: registration, heartbeats,
// placement and rebalancing, and the fencing of stale results by epoch.
// No gRPC type appears here, so tests drive it without sockets.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "coordinator/replica_pool.h"
#include "lib/runner/asynchronous.h"
#include "lib/runner/driver.h"
#include "lib/timing/clock.h"
#include "replex/v1/job.pb.h"
#include "replex/v1/worker.pb.h"

namespace replex::coordinator {

class CoordinatorMetrics;

// What the registry knows about one worker, for tests and status pages.
struct WorkerInfo {
  std::string worker_id;
  std::string name;
  std::string platform;
  int slots = 0;
  int max_replicas = 0;
  int hosted = 0;  // replicas placed on it, all jobs together
  bool draining = false;
};

// Thread-safe: one mutex guards everything, so placement decisions see one
// consistent picture of all workers and jobs (the coordinator's single
// writer). Blocking calls (SendRound, AwaitRound, NextOutgoing) wait on
// conditions of that mutex, never by polling. The registry never calls out
// while holding it. Sessions are in worker_registry.cc, rounds and placement in
// worker_rounds.cc.
class WorkerRegistry : public ReplicaPool {
 public:
  struct Options {
    absl::Duration heartbeat_interval = absl::Seconds(5);
    // A worker that sends nothing for this long is lost.
    absl::Duration heartbeat_timeout = absl::Seconds(30);
    // Every replica's first epoch. A restarted coordinator passes its
    // incarnation << 32, so its epochs exceed every epoch issued before.
    int64_t epoch_base = 0;
    // Segments, rounds and worker sessions are counted here when set.
    CoordinatorMetrics* metrics = nullptr;
  };

  // `clock` must outlive the registry.
  WorkerRegistry(Options options, timing::Clock* clock);
  WorkerRegistry(const WorkerRegistry&) = delete;
  WorkerRegistry& operator=(const WorkerRegistry&) = delete;

  // ---- The session side, called by the Session adapter ----

  struct Session {
    uint64_t key = 0;  // names this session in the calls below
    std::string worker_id;
  };
  // Registers a worker from its first message and queues its Welcome.
  // INVALID_ARGUMENT for a malformed Register. A worker that registers under
  // the name of a worker still connected replaces it (that one is lost: a
  // restarted pod reconnects before its old stream times out).
  // `end_session` is called, with the registry's lock held, when the
  // coordinator ends the session (heartbeat timeout, replacement, shutdown)
  // so that the adapter can cancel the stream even while it is blocked
  // reading or writing; it must not block or call back into the registry.
  absl::StatusOr<Session> Connect(const v1::Register& hello,
                                  std::function<void()> end_session);

  // Handles one message from the worker. Results that do not match the
  // replica's current epoch, host and open round are dropped, as are
  // duplicates, so every message is idempotent.
  void Receive(uint64_t key, const v1::WorkerMessage& message);

  // Blocks until messages are queued for the worker, moves them to `out` and
  // returns true; returns false once the session is over.
  bool NextOutgoing(uint64_t key, std::vector<v1::CoordinatorMessage>* out);

  // The worker's stream has ended. A worker that leaves while it still holds
  // replica state (a loaded replica, or one being handed back) is lost:
  // their jobs' rounds fail with WorkerLostError and the jobs roll back.
  // Replicas placed there but not yet loaded are simply placed again.
  // Returns the status the Session ends with: OK for a clean leave,
  // CANCELLED when the worker went away holding replicas, or the reason the
  // coordinator ended it.
  absl::Status Disconnect(uint64_t key);

  // Sends every worker a heartbeat and loses those silent for longer than
  // heartbeat_timeout. Call every heartbeat_interval.
  void Tick();

  // Ends every session and fails every job's current round with
  // UNAVAILABLE; later calls are refused. Nothing is sent to workers.
  void Shutdown();

  std::vector<WorkerInfo> Workers() const;

  // ---- ReplicaPool ----

  // Places the job only when at least one worker of its platform is
  // connected and not draining and their free max_replicas add up to its
  // replicas. Messages go to workers lazily, from RunSegments.
  absl::StatusOr<std::unique_ptr<JobExecutor>> Admit(
      const std::string& job_id, std::shared_ptr<const v1::JobSpec> spec,
      int n_replicas) override;
  void SetCapacityListener(std::function<void()> listener) override;

 private:
  friend class RemoteExecutor;

  struct Worker;
  struct Job;

  // One round of a job on its workers (RemoteExecutor::RunSegments), in two
  // calls so that the caller's other work overlaps the segments with no
  // lock held: SendRound rebalances at the round boundary and sends the
  // orders; AwaitRound waits for every result. The Job keeps what AwaitRound
  // waits on alive even if the job is released meanwhile.
  absl::StatusOr<std::shared_ptr<Job>> SendRound(
      const std::string& job_id,
      const std::vector<runner::SegmentOrder>& orders) ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<std::vector<runner::SegmentResult>> AwaitRound(
      const std::shared_ptr<Job>& job) ABSL_LOCKS_EXCLUDED(mu_);
  // Asynchronous exchange (RemoteExecutor's SegmentStream): sends one
  // replica's order, placing the job's replicas first when `place` (only
  // while none of its segments runs: at a barrier, and at the start).
  absl::StatusOr<std::shared_ptr<Job>> StartSegment(
      const std::string& job_id, const runner::SegmentOrder& order, bool place)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Waits for the next result of a segment out: its replica and result, or
  // the job's failure once it has one, with the replica whose segment
  // failed (-1: none did, e.g. a worker was lost).
  struct Arrival {
    int replica = -1;
    absl::StatusOr<runner::SegmentResult> result;
  };
  Arrival AwaitSegment(const std::shared_ptr<Job>& job)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Whether a worker hosting the job's replicas runs fewer of the segments
  // `out` (by replica) than it has slots.
  bool SlotFree(const std::string& job_id,
                const std::map<int, runner::SegmentOrder>& out) const
      ABSL_LOCKS_EXCLUDED(mu_);
  // Every replica's state, while none of the job's segments runs: each is
  // handed back (ReleaseReplica with want_state) and loads again from it
  // with its next segment, where placement then puts it.
  absl::StatusOr<std::vector<std::string>> ReadStates(const std::string& job_id)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Whether a worker hosting one of the job's replicas is draining.
  bool HostDraining(const std::string& job_id) const ABSL_LOCKS_EXCLUDED(mu_);
  void ReleaseJob(const std::string& job_id, const absl::Status& why)
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status ReloadJob(const std::string& job_id,
                         const std::vector<JobExecutor::ReplicaStart>& starts)
      ABSL_LOCKS_EXCLUDED(mu_);
  int WorkersHosting(const std::string& job_id) const ABSL_LOCKS_EXCLUDED(mu_);

  // The job, unless it has been released (CANCELLED) or has failed (its
  // failure).
  absl::StatusOr<std::shared_ptr<Job>> FindLiveJob(const std::string& job_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The job's boundary between rounds (or a barrier): new workers get
  // replicas, draining ones lose theirs, replicas of a lost worker wait for
  // room, and moved replicas' states come in. Each wait releases the lock,
  // and a worker may leave meanwhile, so placement runs again after each.
  absl::Status PlaceAll(const std::shared_ptr<Job>& job)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Opens `orders` and sends them: LoadJob and LoadReplica first where
  // needed, then one SegmentOrders per host. `round`: they are a synchronous
  // round's, whose results the job waits for together, so each worker may
  // send its share in one message (SegmentOrder.batch_result).
  absl::Status SendOrders(Job& job,
                          const std::vector<runner::SegmentOrder>& orders,
                          bool round) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Moves the job's replicas to where PlaceReplicas says, releasing moved
  // ones from their old hosts with want_state. Returns false (changing
  // nothing) when a replica without a host has no room.
  bool Place(Job& job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Asks `from`, which has the replica loaded, to hand it back with its
  // state (ReleaseReplica with want_state; a ReplicaStateReport answers).
  void HandBack(Job& job, int replica, Worker& from)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sends UnloadJob to every worker that has the job loaded.
  void UnloadEverywhere(const std::string& job_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sends `worker` the version of the job's adaptive ladder that `order`
  // runs at (LadderUpdate), unless it has it; nothing for a fixed ladder.
  void SendLadderVersion(Worker& worker, const std::string& job_id,
                         const runner::SegmentOrder& order)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sends UnloadJob to `worker` when it no longer has anything of `job`.
  void UnloadIfUnused(Worker& worker, const Job& job)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Fails the rounds of the jobs that hold replica state on the worker (they
  // roll back), places elsewhere the replicas of other jobs merely assigned
  // to it, and ends its session with `end`. The worker stays listed (but
  // not eligible) until Disconnect.
  void Lose(Worker& worker, const std::string& why, absl::Status end)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ends the session with `end` unless it has already ended.
  void EndSession(Worker& worker, absl::Status end)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Send(Worker& worker, v1::CoordinatorMessage message)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Worker* FindWorker(uint64_t key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The open round's replica a result names, or null when the result is
  // stale, a duplicate or about something unknown.
  Job* MatchResult(const Worker& worker, const std::string& job_id, int replica,
                   int64_t round, int64_t epoch)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnSegmentDone(Worker& worker, const v1::SegmentDone& done)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnSegmentFailed(Worker& worker, const v1::SegmentFailed& failed)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnReplicaState(Worker& worker, const v1::ReplicaStateReport& report)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnGoodbye(Worker& worker, const v1::Goodbye& goodbye)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  timing::Clock* const clock_;
  mutable absl::Mutex mu_;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t next_key_ ABSL_GUARDED_BY(mu_) = 1;
  // By session key, so iteration follows join order and placement is
  // deterministic. shared_ptr: a session's writer may still wait on its
  // worker after Disconnect has removed it.
  std::map<uint64_t, std::shared_ptr<Worker>> workers_ ABSL_GUARDED_BY(mu_);
  // shared_ptr: AwaitRound keeps waiting on a job that ReleaseJob removed.
  std::map<std::string, std::shared_ptr<Job>> jobs_ ABSL_GUARDED_BY(mu_);
  std::function<void()> capacity_listener_ ABSL_GUARDED_BY(mu_);
  // Counts joins and job releases, so that a job waiting for room to
  // place its replicas sees when there may be more.
  int64_t room_changes_ ABSL_GUARDED_BY(mu_) = 0;
};

// The JobExecutor of one job on remote workers: RunSegments sends each
// replica's SegmentOrder to the worker hosting it (LoadJob and LoadReplica
// first where needed) and blocks until every SegmentDone is in. Thread-safe
// as JobExecutor says; the registry does the work. Its SegmentStream
// (asynchronous exchange) is used from the job's thread only.
class RemoteExecutor : public JobExecutor, public runner::SegmentStream {
 public:
  RemoteExecutor(WorkerRegistry* registry, std::string job_id)
      : registry_(registry), job_id_(std::move(job_id)) {}
  ~RemoteExecutor() override;

  absl::StatusOr<std::vector<runner::SegmentResult>> RunSegments(
      const std::vector<runner::SegmentOrder>& orders) override;
  absl::StatusOr<std::vector<runner::SegmentResult>> RunSegmentsOverlapping(
      const std::vector<runner::SegmentOrder>& orders,
      const std::function<void()>& meanwhile) override;
  void Release(const absl::Status& why) override;
  int workers() const override;
  absl::Status Reload(const std::vector<ReplicaStart>& starts) override;

  runner::SegmentStream* Stream() override { return this; }
  bool HostDraining() const override;
  // A slot of a worker hosting the job's replicas runs none of its
  // segments out (those started and not yet returned by Next).
  bool SlotFree() const override;
  void Start(const runner::SegmentOrder& order) override;
  // A result with a non-finite energy is a replica fault (the job rolls
  // back, as in rounds); after a failure, every segment out returns it.
  Finished Next() override;
  absl::StatusOr<std::vector<std::string>> States() override;

 private:
  WorkerRegistry* const registry_;
  const std::string job_id_;
  // The SegmentStream's segments out, by replica, and the job they went to.
  std::map<int, runner::SegmentOrder> out_;
  std::shared_ptr<WorkerRegistry::Job> job_;
  // Orders that could not be sent, returned by Next first.
  std::deque<Finished> refused_;
};

}  // namespace replex::coordinator
