#include "replica-worker/replica_host.h"

#include <algorithm>
#include <atomic>
#include <limits>
#include <map>
#include <type_traits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "lib/runner/report.h"
#include "lib/service/process.h"
#include "lib/spec/spec.h"
#include "lib/wire/wire.h"

namespace replex::worker {

// A job as a worker sees it: the ladder and engine options every replica of
// it shares, and its Model, parsed once, by the first replica that needs it.
// Thread-safe.
struct ReplicaHost::Job {
  Job(const v1::LoadJob& message, const HostOptions& host_options)
      : id(message.job_id()), ladder(absl::InvalidArgumentError("no ladder")) {
    v1::JobSpec spec = message.spec();
    // The coordinator may forward the spec as submitted; the defaults are
    // what `replex run` would use, so both modes run the same dynamics.
    spec::ApplyDefaults(spec);
    platform = spec.platform();
    ladder = spec::BuildLadder(spec.ladder());
    options = runner::EngineOptionsFor(spec, host_options.slots);
    // Only what the Model is made of is kept until it is.
    absl::MutexLock lock(&mu);
    inputs.Swap(&spec);
  }

  absl::StatusOr<std::shared_ptr<const engine::Model>> Model() {
    absl::MutexLock lock(&mu);
    if (!model.has_value()) {
      model = runner::LoadModel(inputs);
      // The inputs can be large (a solvated System); the Model has them now.
      inputs.Clear();
      if (!model->ok()) {
        service::Log("job %s: cannot load its System and coordinates: %s", id,
                     model->status().ToString());
      }
    }
    return *model;
  }

  // An adaptive ladder's version `version` (LadderUpdate); version 0 is the
  // spec's ladder, the one replicas are made with.
  void AddVersion(
      int version,
      absl::StatusOr<std::shared_ptr<const exchange::Ladder>> made) {
    absl::MutexLock lock(&mu);
    versions.insert_or_assign(version, std::move(made));
  }
  absl::StatusOr<std::shared_ptr<const exchange::Ladder>> Version(int version) {
    absl::MutexLock lock(&mu);
    auto it = versions.find(version);
    if (it == versions.end()) {
      return absl::InternalError(
          absl::StrCat("the order is for version ", version, " of job ", id,
                       "'s adaptive ladder, which this worker was never sent"));
    }
    return it->second;
  }

  const std::string id;
  std::string platform;
  absl::StatusOr<exchange::Ladder> ladder;
  engine::EngineOptions options;

 private:
  absl::Mutex mu;
  std::map<int, absl::StatusOr<std::shared_ptr<const exchange::Ladder>>>
      versions ABSL_GUARDED_BY(mu);
  v1::JobSpec inputs ABSL_GUARDED_BY(mu);
  std::optional<absl::StatusOr<std::shared_ptr<const engine::Model>>> model
      ABSL_GUARDED_BY(mu);
};

// One hosted replica. `engine` and `load_error` belong to the work item
// running now (at most one per replica, see `scheduled`); the rest is guarded
// by the host's mu_.
struct ReplicaHost::Hosted {
  Hosted(std::shared_ptr<Job> job, std::string job_id, int replica,
         int64_t epoch, uint64_t affinity)
      : job(std::move(job)),
        job_id(std::move(job_id)),
        replica(replica),
        epoch(epoch),
        affinity(affinity) {}

  const std::shared_ptr<Job> job;  // null when LoadJob never came
  const std::string job_id;
  const int replica;
  const int64_t epoch;
  const uint64_t affinity;  // its work prefers one executor thread

  std::unique_ptr<engine::Replica> engine;
  absl::Status load_error;

  std::deque<Work> queue;
  bool scheduled = false;  // a RunNext is queued on the executor or running
  bool released = false;   // a release is queued: later orders are dropped
  bool dropped = false;    // not hosted any more: skip its work, send nothing
  // Set with `dropped`: stops a running segment within
  // engine::Replica::kStopCheckSteps steps, since its result is not sent.
  std::atomic<bool> stop{false};
  int64_t last_round = -1;  // highest round accepted for this epoch
  // The round of the batch_result order running now, if one is: counted in
  // held_ until it ends, or until the replica is dropped, whichever is
  // first (so a dropped copy's segment, stopping later, never counts
  // against a round of the same number ordered since).
  std::optional<int64_t> running_round;
};

namespace {

v1::WorkerMessage SegmentFailed(const v1::SegmentOrder& order,
                                const absl::Status& status) {
  v1::WorkerMessage message;
  v1::SegmentFailed& failed = *message.mutable_segment_failed();
  failed.set_job_id(order.job_id());
  failed.set_replica(order.replica());
  failed.set_round(order.round());
  failed.set_epoch(order.epoch());
  failed.set_error(std::string(status.message()));
  // Only the job's own inputs produce INVALID_ARGUMENT in the engine; every
  // other failure is worth a retry elsewhere.
  failed.set_invalid_input(status.code() == absl::StatusCode::kInvalidArgument);
  return message;
}

}  // namespace

engine::EngineOptions ReplicaEngineOptions(
    const engine::EngineOptions& job_options,
    const std::vector<std::string>& devices, uint64_t affinity) {
  engine::EngineOptions options = job_options;
  const bool gpu = options.platform == "CUDA" || options.platform == "OpenCL";
  if (gpu && !devices.empty() &&
      options.platform_properties.count("DeviceIndex") == 0) {
    options.platform_properties["DeviceIndex"] =
        devices[affinity % devices.size()];
  }
  return options;
}

ReplicaHost::ReplicaHost(HostOptions options,
                         std::unique_ptr<threads::Executor> executor,
                         HostOutput* output)
    : options_(std::move(options)),
      output_(output),
      executor_(std::move(executor)) {}

ReplicaHost::~ReplicaHost() {
  // Stop the executor before the members its tasks use go away.
  executor_.reset();
}

void ReplicaHost::LoadJob(const v1::LoadJob& message) {
  // Building the ladder is cheap; parsing the System waits for a replica.
  auto job = std::make_shared<Job>(message, options_);
  absl::MutexLock lock(&mu_);
  if (!jobs_.emplace(message.job_id(), job).second) {
    service::Log("job %s is already loaded; repeated LoadJob ignored",
                 message.job_id());
    return;
  }
  if (job->ladder.ok()) {
    service::Log("job %s loaded: \"%s\", %d rungs on %s", job->id,
                 message.spec().name(), job->ladder->size(), job->platform);
  } else {
    service::Log(
        "job %s loaded with an unusable ladder (its replicas will fail): %s",
        job->id, job->ladder.status().ToString());
  }
}

void ReplicaHost::UpdateLadder(const v1::LadderUpdate& message) {
  std::shared_ptr<Job> job;
  {
    absl::MutexLock lock(&mu_);
    auto it = jobs_.find(message.job_id());
    if (it == jobs_.end()) {
      service::Log("LadderUpdate for job %s ignored: the job is not loaded",
                   message.job_id());
      return;
    }
    job = it->second;
  }
  absl::StatusOr<exchange::Ladder> ladder = job->ladder;
  if (ladder.ok()) {
    const int n = ladder->size();
    const int p = static_cast<int>(ladder->parameter_names().size());
    runner::LadderVersion version;
    if (message.temperatures_k_size() == n &&
        message.parameters_size() == n * p) {
      version.temperatures_k.assign(message.temperatures_k().begin(),
                                    message.temperatures_k().end());
      for (int k = 0; k < n; ++k) {
        version.parameters.emplace_back(
            message.parameters().begin() + k * p,
            message.parameters().begin() + (k + 1) * p);
      }
    }
    ladder = runner::WithVersion(*ladder, version);
  }
  absl::StatusOr<std::shared_ptr<const exchange::Ladder>> made =
      ladder.ok()
          ? absl::StatusOr<std::shared_ptr<const exchange::Ladder>>(
                std::make_shared<const exchange::Ladder>(*std::move(ladder)))
          : absl::InvalidArgumentError(
                absl::StrCat("version ", message.version(),
                             " of the adaptive ladder is unusable: ",
                             ladder.status().message()));
  if (!made.ok()) {
    service::Log("job %s: %s", message.job_id(), made.status().ToString());
  }
  job->AddVersion(message.version(), std::move(made));
}

void ReplicaHost::LoadReplica(const v1::LoadReplica& message) {
  std::shared_ptr<Hosted> superseded;  // destroyed after unlocking
  {
    absl::MutexLock lock(&mu_);
    LoadReplicaLocked(message, &superseded);
  }
  SendQueued();  // what dropping the superseded copy's orders completed
}

void ReplicaHost::LoadReplicaLocked(const v1::LoadReplica& message,
                                    std::shared_ptr<Hosted>* superseded) {
  const Key key(message.job_id(), message.replica());
  if (auto it = replicas_.find(key); it != replicas_.end()) {
    if (it->second->epoch >= message.epoch()) {
      service::Log("LoadReplica %s/%d epoch %d ignored: hosted at epoch %d",
                   message.job_id(), message.replica(), message.epoch(),
                   it->second->epoch);
      return;
    }
    *superseded = DropLocked(it->second);
  }
  auto job_it = jobs_.find(message.job_id());
  auto hosted = std::make_shared<Hosted>(
      job_it == jobs_.end() ? nullptr : job_it->second, message.job_id(),
      message.replica(), message.epoch(), LeastLoadedSlotLocked());
  // Both failures are reported on the replica's first order: SegmentFailed
  // is the only failure message the protocol has.
  if (hosted->job == nullptr) {
    hosted->load_error = absl::FailedPreconditionError(absl::StrCat(
        "job ", message.job_id(),
        " is not loaded on this worker: LoadJob must precede LoadReplica in "
        "every session"));
  } else if (const int hosting = HostingLocked();
             hosting >= options_.max_replicas) {
    hosted->load_error = absl::ResourceExhaustedError(
        absl::StrCat("this worker already hosts ", hosting,
                     " replicas, its --max_replicas"));
  }
  replicas_[key] = hosted;
  if (hosted->load_error.ok()) {
    Enqueue(hosted, message);
  } else {
    service::Log("replica %s/%d epoch %d cannot be hosted: %s",
                 message.job_id(), message.replica(), message.epoch(),
                 hosted->load_error.ToString());
  }
}

void ReplicaHost::Order(const v1::SegmentOrder& message) {
  absl::MutexLock lock(&mu_);
  OrderLocked(message);
}

void ReplicaHost::Orders(const v1::SegmentOrders& message) {
  absl::MutexLock lock(&mu_);
  for (const v1::SegmentOrder& order : message.orders()) OrderLocked(order);
}

void ReplicaHost::OrderLocked(const v1::SegmentOrder& message) {
  std::shared_ptr<Hosted> hosted = FindLocked(
      message.job_id(), message.replica(), message.epoch(), "SegmentOrder");
  if (hosted == nullptr) return;
  if (hosted->released) {
    service::Log(
        "SegmentOrder %s/%d round %d dropped: the replica is being released",
        message.job_id(), message.replica(), message.round());
    return;
  }
  if (message.round() <= hosted->last_round) {
    service::Log(
        "SegmentOrder %s/%d round %d dropped: round %d was already accepted",
        message.job_id(), message.replica(), message.round(),
        hosted->last_round);
    return;
  }
  hosted->last_round = message.round();
  if (message.batch_result()) {
    ++held_[RoundKey(message.job_id(), message.round())].open;
  }
  Enqueue(hosted, message);
}

void ReplicaHost::Release(const v1::ReleaseReplica& message) {
  {
    absl::MutexLock lock(&mu_);
    std::shared_ptr<Hosted> hosted = FindLocked(
        message.job_id(), message.replica(), message.epoch(), "ReleaseReplica");
    if (hosted == nullptr || hosted->released) return;
    hosted->released = true;
    // Orders not started yet go with the replica: its state is reported
    // without them and the coordinator re-issues them to the new host.
    std::deque<Work> kept, cancelled;
    for (Work& work : hosted->queue) {
      (std::holds_alternative<v1::SegmentOrder>(work) ? cancelled : kept)
          .push_back(std::move(work));
    }
    hosted->queue = std::move(kept);
    EndQueuedLocked(cancelled);
    Enqueue(hosted, message);
  }
  SendQueued();  // what cancelling its orders completed
}

void ReplicaHost::UnloadJob(const v1::UnloadJob& message) {
  std::vector<std::shared_ptr<Hosted>> dropped;  // destroyed after unlocking
  bool idle_now;
  {
    absl::MutexLock lock(&mu_);
    const bool had_job = jobs_.erase(message.job_id()) > 0;
    // Its held results are not wanted any more. Rounds sort by job first.
    held_.erase(held_.lower_bound(RoundKey(
                    message.job_id(), std::numeric_limits<int64_t>::min())),
                held_.upper_bound(RoundKey(
                    message.job_id(), std::numeric_limits<int64_t>::max())));
    // Keys sort by job first, so the job's replicas are one range.
    for (auto it = replicas_.lower_bound(
             Key(message.job_id(), std::numeric_limits<int>::min()));
         it != replicas_.end() && it->first.first == message.job_id();) {
      std::shared_ptr<Hosted> hosted = (it++)->second;
      dropped.push_back(DropLocked(hosted));
    }
    if (had_job || !dropped.empty()) {
      service::Log("job %s unloaded (%d replicas dropped)", message.job_id(),
                   dropped.size());
    }
    idle_now = IdleLocked();
  }
  if (idle_now) output_->OnIdle();
}

void ReplicaHost::DropAll() {
  std::vector<std::shared_ptr<Hosted>> dropped;  // destroyed after unlocking
  bool idle_now;
  {
    absl::MutexLock lock(&mu_);
    held_.clear();  // the session ended: the coordinator reassigns them all
    while (!replicas_.empty()) {
      dropped.push_back(DropLocked(replicas_.begin()->second));
    }
    if (!jobs_.empty() || !dropped.empty()) {
      service::Log("dropped %d jobs and %d replicas", jobs_.size(),
                   dropped.size());
    }
    jobs_.clear();
    idle_now = IdleLocked();
  }
  if (idle_now) output_->OnIdle();
}

bool ReplicaHost::idle() const {
  absl::MutexLock lock(&mu_);
  return IdleLocked();
}

int ReplicaHost::hosted_replicas() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(replicas_.size());
}

int ReplicaHost::hosted_jobs() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(jobs_.size());
}

void ReplicaHost::Enqueue(const std::shared_ptr<Hosted>& hosted, Work work) {
  hosted->queue.push_back(std::move(work));
  if (!hosted->scheduled) {
    hosted->scheduled = true;
    executor_->Schedule(hosted->affinity, [this, hosted] { RunNext(hosted); });
  }
}

void ReplicaHost::RunNext(const std::shared_ptr<Hosted>& hosted) {
  Work work;
  {
    absl::MutexLock lock(&mu_);
    if (hosted->dropped || hosted->queue.empty()) {
      hosted->scheduled = false;
      return;
    }
    work = std::move(hosted->queue.front());
    hosted->queue.pop_front();
    ++running_;
    if (const auto* order = std::get_if<v1::SegmentOrder>(&work);
        order != nullptr && order->batch_result()) {
      hosted->running_round = order->round();
    }
  }
  std::optional<v1::WorkerMessage> reply = std::visit(
      [&](const auto& item) -> std::optional<v1::WorkerMessage> {
        using T = std::decay_t<decltype(item)>;
        if constexpr (std::is_same_v<T, v1::LoadReplica>) {
          return Load(*hosted, item);
        } else if constexpr (std::is_same_v<T, v1::SegmentOrder>) {
          return Segment(*hosted, item);
        } else {
          return SaveState(*hosted, item);
        }
      },
      work);
  {
    absl::MutexLock lock(&mu_);
    // Nothing is sent for a dropped replica; its order stopped counting in
    // held_ when it was dropped.
    if (hosted->dropped) reply.reset();
    if (const std::optional<int64_t> round =
            std::exchange(hosted->running_round, std::nullopt)) {
      const bool done = reply.has_value() && reply->has_segment_done();
      EndHeldLocked(RoundKey(hosted->job_id, *round),
                    done ? std::move(reply) : std::nullopt);
      if (done) reply.reset();
    }
    if (reply.has_value()) {
      TakeHeldLocked();
      outbox_.push_back(*std::move(reply));
    }
  }
  // Queued while this replica is still `scheduled`, so its messages keep
  // their order (a SegmentDone before the state report that includes it).
  SendQueued();
  std::shared_ptr<Hosted> released;  // destroyed after unlocking
  bool idle_now;
  {
    absl::MutexLock lock(&mu_);
    --running_;
    if (std::holds_alternative<v1::ReleaseReplica>(work)) {
      // Its queue is empty (a release is its last work): no order ends.
      released = DropLocked(hosted);
    }
    if (!hosted->dropped && !hosted->queue.empty()) {
      executor_->Schedule(hosted->affinity,
                          [this, hosted] { RunNext(hosted); });
    } else {
      hosted->scheduled = false;
    }
    idle_now = IdleLocked();
  }
  if (idle_now) output_->OnIdle();
}

std::optional<v1::WorkerMessage> ReplicaHost::Load(
    Hosted& hosted, const v1::LoadReplica& message) {
  Job& job = *hosted.job;
  absl::Status status = job.ladder.status();
  absl::StatusOr<std::shared_ptr<const engine::Model>> model;
  if (status.ok()) {
    model = job.Model();
    status = model.status();
  }
  if (status.ok()) {
    absl::StatusOr<std::unique_ptr<engine::Replica>> replica =
        runner::StartReplica(*model,
                             ReplicaEngineOptions(job.options, options_.devices,
                                                  hosted.affinity),
                             *job.ladder, message.replica(), message.rung(),
                             message.temperature_k(), message.velocity_seed(),
                             message.state(), message.redraw_velocities());
    if (replica.ok()) {
      hosted.engine = *std::move(replica);
    } else {
      status = replica.status();
    }
  }
  if (!status.ok()) {
    hosted.load_error = status;
    service::Log("replica %s/%d epoch %d failed to load: %s", hosted.job_id,
                 hosted.replica, hosted.epoch, status.ToString());
  }
  return std::nullopt;
}

std::optional<v1::WorkerMessage> ReplicaHost::Segment(
    Hosted& hosted, const v1::SegmentOrder& message) {
  if (hosted.engine == nullptr)
    return SegmentFailed(message, hosted.load_error);
  const absl::Time start = absl::Now();
  if (message.ladder_version() == 0 && message.temperature_k() > 0) {
    return SegmentFailed(
        message,
        absl::FailedPreconditionError(
            "the order carries an adaptive ladder's temperature but no ladder "
            "version: it comes from a coordinator of an earlier release, "
            "which does not send versions; upgrade the coordinator before "
            "its workers"));
  }
  runner::SegmentOrder order = wire::FromProto(message);
  if (order.ladder_version > 0) {
    absl::StatusOr<std::shared_ptr<const exchange::Ladder>> ladder =
        hosted.job->Version(order.ladder_version);
    if (!ladder.ok()) return SegmentFailed(message, ladder.status());
    order.ladder = *std::move(ladder);
  }
  absl::StatusOr<runner::SegmentResult> result =
      runner::ExecuteOrder(*hosted.engine, order, &hosted.stop);
  if (absl::IsCancelled(result.status()) && hosted.stop) {
    service::Log("replica %s/%d round %d stopped: %s (the replica was dropped)",
                 message.job_id(), message.replica(), message.round(),
                 result.status().message());
    return std::nullopt;  // nothing is sent for a dropped replica
  }
  if (!result.ok()) {
    service::Log("replica %s/%d round %d failed: %s", message.job_id(),
                 message.replica(), message.round(),
                 result.status().ToString());
    return SegmentFailed(message, result.status());
  }
  return wire::SegmentDone(message, *std::move(result),
                           absl::ToDoubleSeconds(absl::Now() - start));
}

std::optional<v1::WorkerMessage> ReplicaHost::SaveState(
    Hosted& hosted, const v1::ReleaseReplica& message) {
  if (!message.want_state()) return std::nullopt;
  absl::StatusOr<engine::PortableState> state =
      hosted.engine != nullptr
          ? hosted.engine->Save()
          : absl::FailedPreconditionError(absl::StrCat(
                "it was never loaded: ", hosted.load_error.message()));
  v1::WorkerMessage reply;
  v1::ReplicaStateReport& report = *reply.mutable_replica_state();
  report.set_job_id(hosted.job_id);
  report.set_replica(hosted.replica);
  report.set_epoch(hosted.epoch);
  if (!state.ok()) {
    // An empty state tells the coordinator the move failed, so it fails the
    // job with a reason instead of waiting for a state that never comes.
    service::Log("replica %s/%d epoch %d released without its state: %s",
                 hosted.job_id, hosted.replica, hosted.epoch,
                 state.status().ToString());
    return reply;
  }
  report.set_rung(hosted.engine->rung());
  report.set_temperature_k(hosted.engine->temperature_k());
  report.set_state(state->Serialize());
  return reply;
}

void ReplicaHost::EndHeldLocked(const RoundKey& key,
                                std::optional<v1::WorkerMessage> done) {
  auto it = held_.find(key);
  if (it == held_.end()) return;  // its job was unloaded meanwhile
  HeldRound& round = it->second;
  if (done.has_value()) {
    round.bytes += done->segment_done().ByteSizeLong();
    *round.results.mutable_segment_dones()->add_done() =
        std::move(*done->mutable_segment_done());
  }
  if (--round.open > 0) {
    if (round.bytes >= options_.max_held_bytes) {
      outbox_.push_back(std::move(round.results));
      round.results.Clear();
      round.bytes = 0;
    }
    return;
  }
  if (round.results.segment_dones().done_size() > 0) {
    outbox_.push_back(std::move(round.results));
  }
  held_.erase(it);
}

void ReplicaHost::EndQueuedLocked(const std::deque<Work>& queue) {
  for (const Work& work : queue) {
    const auto* order = std::get_if<v1::SegmentOrder>(&work);
    if (order != nullptr && order->batch_result()) {
      EndHeldLocked(RoundKey(order->job_id(), order->round()), std::nullopt);
    }
  }
}

void ReplicaHost::TakeHeldLocked() {
  for (auto& [key, round] : held_) {
    if (round.results.segment_dones().done_size() == 0) continue;
    outbox_.push_back(std::move(round.results));
    round.results.Clear();
    round.bytes = 0;
  }
}

void ReplicaHost::SendQueued() {
  bool idle_now;
  {
    absl::MutexLock lock(&mu_);
    if (sending_ || outbox_.empty()) return;  // a sender sends ours too
    sending_ = true;
    while (!outbox_.empty()) {
      v1::WorkerMessage message = std::move(outbox_.front());
      outbox_.pop_front();
      mu_.Unlock();
      output_->Send(message);
      mu_.Lock();
    }
    sending_ = false;
    idle_now = IdleLocked();
  }
  if (idle_now) output_->OnIdle();
}

std::shared_ptr<ReplicaHost::Hosted> ReplicaHost::DropLocked(
    std::shared_ptr<Hosted> hosted) {
  hosted->dropped = true;
  hosted->stop = true;
  EndQueuedLocked(hosted->queue);
  hosted->queue.clear();
  if (const std::optional<int64_t> round =
          std::exchange(hosted->running_round, std::nullopt)) {
    EndHeldLocked(RoundKey(hosted->job_id, *round), std::nullopt);
  }
  auto it = replicas_.find(Key(hosted->job_id, hosted->replica));
  if (it != replicas_.end() && it->second == hosted) replicas_.erase(it);
  return hosted;
}

int ReplicaHost::HostingLocked() const {
  int hosting = 0;
  for (const auto& [key, hosted] : replicas_) hosting += !hosted->released;
  return hosting;
}

uint64_t ReplicaHost::LeastLoadedSlotLocked() const {
  std::vector<int> load(std::max(options_.slots, 1), 0);
  for (const auto& [key, hosted] : replicas_) {
    if (!hosted->released) ++load[hosted->affinity % load.size()];
  }
  return std::min_element(load.begin(), load.end()) - load.begin();
}

bool ReplicaHost::IdleLocked() const {
  return replicas_.empty() && running_ == 0 && outbox_.empty() && !sending_;
}

std::shared_ptr<ReplicaHost::Hosted> ReplicaHost::FindLocked(
    const std::string& job_id, int replica, int64_t epoch,
    const char* what) const {
  auto it = replicas_.find(Key(job_id, replica));
  if (it == replicas_.end()) {
    service::Log("%s for %s/%d epoch %d dropped: replica not hosted here", what,
                 job_id, replica, epoch);
    return nullptr;
  }
  if (it->second->epoch != epoch) {
    service::Log("%s for %s/%d epoch %d dropped: hosted at epoch %d", what,
                 job_id, replica, epoch, it->second->epoch);
    return nullptr;
  }
  return it->second;
}

}  // namespace replex::worker
