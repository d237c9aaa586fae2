#include "coordinator/worker_registry.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "coordinator/checkpoint_recovery.h"
#include "coordinator/coordinator_metrics.h"
#include "coordinator/log.h"
#include "coordinator/placement.h"
#include "lib/exchange/rng.h"

namespace replex::coordinator {

struct WorkerRegistry::Worker {
  uint64_t key = 0;
  std::string id;  // name#key, sent in Welcome
  v1::Register hello;
  absl::Time last_heard;
  bool draining = false;  // said Goodbye: nothing new is placed on it
  bool gone = false;      // lost or left: not eligible, sends are dropped
  std::vector<v1::CoordinatorMessage> outbox;
  std::optional<absl::Status> end;               // set once the session is over
  std::function<void()> end_session;             // from Connect
  absl::flat_hash_set<std::string> loaded_jobs;  // LoadJob sent, no UnloadJob
  int hosted = 0;  // replicas placed here, all jobs together

  const std::string& name() const { return hello.worker_name(); }
  bool HasOutput() const { return !outbox.empty() || end.has_value(); }
};

struct WorkerRegistry::Job {
  struct Replica {
    uint64_t host = 0;    // worker key; 0 before placement
    int64_t epoch = 0;    // of its latest LoadReplica; bumped on each one
    bool loaded = false;  // LoadReplica sent to `host` for `epoch`
    int rung = 0;         // where it last ran (replica r starts at rung r)
    uint64_t releasing_from = 0;  // awaiting its state from this worker
    std::string state;            // to restore on its next host
    // From a rollback, for its next LoadReplica (see ReplicaStart).
    std::optional<uint64_t> velocity_seed;
    bool redraw_velocities = false;
  };

  std::string id;
  std::shared_ptr<const v1::JobSpec> spec;
  std::vector<Replica> replicas;
  absl::Status failure;  // once set, every RunRound returns it
  int64_t open_round = -1;
  std::vector<std::optional<runner::SegmentResult>> results;
  int pending_results = 0;
  int pending_states = 0;

  bool StatesIn() const { return pending_states == 0 || !failure.ok(); }
  bool ResultsIn() const { return pending_results == 0 || !failure.ok(); }
  bool Uses(uint64_t key) const {
    return std::any_of(
        replicas.begin(), replicas.end(), [key](const Replica& replica) {
          return replica.host == key || replica.releasing_from == key;
        });
  }
  // Holds replica state there: losing the worker loses it.
  bool DependsOn(uint64_t key) const {
    return std::any_of(replicas.begin(), replicas.end(),
                       [key](const Replica& replica) {
                         return (replica.host == key && replica.loaded) ||
                                replica.releasing_from == key;
                       });
  }
};

namespace {

// What a job waiting for room to place its replicas waits for.
struct RoomWait {
  const absl::Status* failure;
  const int64_t* room_changes;
  int64_t seen;
  bool Ready() const { return !failure->ok() || *room_changes != seen; }
};

}  // namespace

WorkerRegistry::WorkerRegistry(Options options, Clock* clock)
    : options_(options), clock_(clock) {}

// ---- sessions ----

absl::StatusOr<WorkerRegistry::Session> WorkerRegistry::Connect(
    const v1::Register& hello, std::function<void()> end_session) {
  if (hello.worker_name().empty()) {
    return absl::InvalidArgumentError(
        "Register.worker_name is empty; give a name stable across reconnects "
        "(the pod or host name)");
  }
  if (hello.slots() < 1 || hello.max_replicas() < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Register.slots (", hello.slots(), ") and Register.max_replicas (",
        hello.max_replicas(),
        ") must be at least 1: segments run at once and replicas hosted"));
  }
  // Capacity is summed over workers in int: bounds keep the sums exact.
  constexpr int kMaxSlots = 4096, kMaxReplicasPerWorker = 1 << 20;
  if (hello.slots() > kMaxSlots || hello.max_replicas() > kMaxReplicasPerWorker) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Register.slots (", hello.slots(), ") must be at most ", kMaxSlots,
        " and Register.max_replicas (", hello.max_replicas(),
        ") at most ", kMaxReplicasPerWorker));
  }
  if (hello.platform().empty()) {
    return absl::InvalidArgumentError(
        "Register.platform is empty; name the OpenMM platform the worker runs "
        "(Reference, CPU, OpenCL or CUDA)");
  }
  Session session;
  std::function<void()> listener;
  {
    absl::MutexLock lock(&mu_);
    if (shut_down_) {
      return absl::UnavailableError("the coordinator is shutting down");
    }
    for (auto& [key, worker] : workers_) {
      if (!worker->gone && worker->name() == hello.worker_name()) {
        Lose(*worker, "it registered again on a new session",
             absl::AbortedError("this worker registered again on a new "
                                "session, which replaces this one"));
      }
    }
    auto worker = std::make_shared<Worker>();
    worker->key = next_key_++;
    worker->id = absl::StrCat(hello.worker_name(), "#", worker->key);
    worker->hello = hello;
    worker->end_session = std::move(end_session);
    worker->last_heard = clock_->Now();
    v1::CoordinatorMessage welcome;
    welcome.mutable_welcome()->set_worker_id(worker->id);
    welcome.mutable_welcome()->set_heartbeat_interval_ms(
        absl::ToInt64Milliseconds(options_.heartbeat_interval));
    Send(*worker, std::move(welcome));
    LogLine(absl::StrCat(
        "worker ", worker->id, " joined: platform ", hello.platform(), ", ",
        hello.slots(), " slots, max ", hello.max_replicas(), " replicas",
        hello.hostname().empty() ? ""
                                 : absl::StrCat(", host ", hello.hostname()),
        hello.devices().empty()
            ? ""
            : absl::StrCat(", devices ", absl::StrJoin(hello.devices(), ","))));
    if (options_.metrics != nullptr) {
      options_.metrics->WorkerConnected(hello.worker_name());
    }
    session = {worker->key, worker->id};
    workers_.emplace(worker->key, std::move(worker));
    ++room_changes_;
    listener = capacity_listener_;
  }
  if (listener) listener();
  return session;
}

void WorkerRegistry::Receive(uint64_t key, const v1::WorkerMessage& message) {
  absl::MutexLock lock(&mu_);
  Worker* worker = FindWorker(key);
  if (worker == nullptr || worker->gone) return;
  worker->last_heard = clock_->Now();
  switch (message.message_case()) {
    case v1::WorkerMessage::kSegmentDone:
      OnSegmentDone(*worker, message.segment_done());
      break;
    case v1::WorkerMessage::kSegmentFailed:
      OnSegmentFailed(*worker, message.segment_failed());
      break;
    case v1::WorkerMessage::kReplicaState:
      OnReplicaState(*worker, message.replica_state());
      break;
    case v1::WorkerMessage::kGoodbye:
      OnGoodbye(*worker, message.goodbye());
      break;
    default:  // Heartbeat: being heard is all it is for.
      break;
  }
}

bool WorkerRegistry::NextOutgoing(uint64_t key,
                                  std::vector<v1::CoordinatorMessage>* out) {
  absl::MutexLock lock(&mu_);
  auto it = workers_.find(key);
  if (it == workers_.end()) return false;
  const std::shared_ptr<Worker> worker = it->second;
  mu_.Await(absl::Condition(worker.get(), &Worker::HasOutput));
  if (worker->outbox.empty()) return false;
  out->clear();
  out->swap(worker->outbox);
  return true;
}

absl::Status WorkerRegistry::Disconnect(uint64_t key) {
  absl::MutexLock lock(&mu_);
  auto it = workers_.find(key);
  if (it == workers_.end()) return absl::OkStatus();
  Worker& worker = *it->second;
  absl::Status result;
  if (worker.end.has_value()) {
    result = *worker.end;  // the coordinator ended it and said why then
  } else {
    // The worker ended its stream: its writer just stops.
    worker.end = absl::OkStatus();
    // Replicas only assigned here are placed again at their next round.
    const bool holds_replicas = std::any_of(
        jobs_.begin(), jobs_.end(),
        [key](const auto& job) { return job.second->DependsOn(key); });
    if (holds_replicas) {
      Lose(worker,
           worker.draining ? "it closed its stream before handing back its "
                             "replicas"
                           : "its stream closed without Goodbye",
           absl::OkStatus());
      result = absl::CancelledError("the worker went away");
    } else {
      LogLine(absl::StrCat("worker ", worker.id, " left"));
    }
  }
  workers_.erase(it);
  return result;
}

void WorkerRegistry::Tick() {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_->Now();
  for (auto& [key, worker] : workers_) {
    if (worker->gone) continue;
    const absl::Duration silent = now - worker->last_heard;
    if (silent > options_.heartbeat_timeout) {
      const std::string why =
          absl::StrCat("nothing heard for ", absl::FormatDuration(silent));
      Lose(*worker, why,
           absl::UnavailableError(
               absl::StrCat(why, " (--heartbeat_timeout=",
                            absl::FormatDuration(options_.heartbeat_timeout),
                            "); reconnect")));
      continue;
    }
    v1::CoordinatorMessage heartbeat;
    heartbeat.mutable_heartbeat()->set_sent_unix_ms(absl::ToUnixMillis(now));
    Send(*worker, std::move(heartbeat));
  }
}

void WorkerRegistry::Shutdown() {
  absl::MutexLock lock(&mu_);
  shut_down_ = true;
  const absl::Status why =
      absl::UnavailableError("the coordinator is shutting down");
  for (auto& [key, worker] : workers_) {
    worker->gone = true;
    worker->outbox.clear();
    EndSession(*worker, why);
  }
  for (auto& [id, job] : jobs_) {
    if (job->failure.ok()) job->failure = why;
  }
}

std::vector<WorkerInfo> WorkerRegistry::Workers() const {
  absl::MutexLock lock(&mu_);
  std::vector<WorkerInfo> infos;
  for (const auto& [key, worker] : workers_) {
    if (worker->gone) continue;
    infos.push_back({worker->id, worker->name(), worker->hello.platform(),
                     worker->hello.slots(), worker->hello.max_replicas(),
                     worker->hosted, worker->draining});
  }
  return infos;
}

// ---- jobs ----

absl::StatusOr<std::unique_ptr<JobExecutor>> WorkerRegistry::Admit(
    const std::string& job_id, std::shared_ptr<const v1::JobSpec> spec,
    int n_replicas) {
  absl::MutexLock lock(&mu_);
  if (shut_down_) {
    return absl::UnavailableError("the coordinator is shutting down");
  }
  if (jobs_.count(job_id) > 0) {
    return absl::AlreadyExistsError(
        absl::StrCat("job ", job_id, " is already placed"));
  }
  auto job = std::make_shared<Job>();
  job->id = job_id;
  job->spec = std::move(spec);
  job->replicas.resize(n_replicas);
  for (int r = 0; r < n_replicas; ++r) {
    job->replicas[r].rung = r;
    job->replicas[r].epoch = options_.epoch_base;
  }
  if (!Place(*job)) {
    const std::string& platform = job->spec->platform();
    int connected = 0, free = 0;
    for (const auto& [key, worker] : workers_) {
      if (worker->gone || worker->draining ||
          worker->hello.platform() != platform) {
        continue;
      }
      ++connected;
      free += std::max(0, worker->hello.max_replicas() - worker->hosted);
    }
    return absl::ResourceExhaustedError(
        connected == 0
            ? absl::StrCat("no ", platform, " worker is connected")
            : absl::StrCat(n_replicas, " replicas need places; the ", connected,
                           " ", platform, " worker(s) have ", free,
                           " free (max_replicas less replicas hosted)"));
  }
  jobs_.emplace(job_id, job);
  return std::make_unique<RemoteExecutor>(this, job_id);
}

void WorkerRegistry::SetCapacityListener(std::function<void()> listener) {
  absl::MutexLock lock(&mu_);
  capacity_listener_ = std::move(listener);
}

bool WorkerRegistry::Place(Job& job) {
  std::vector<Worker*> candidates;
  std::map<uint64_t, int> index;
  std::vector<WorkerLoad> loads;
  std::map<uint64_t, int> mine;
  for (const Job::Replica& replica : job.replicas) ++mine[replica.host];
  for (auto& [key, worker] : workers_) {
    if (worker->gone) continue;
    index[key] = static_cast<int>(candidates.size());
    candidates.push_back(worker.get());
    loads.push_back({worker->hello.slots(), worker->hello.max_replicas(),
                     worker->hosted - mine[key],
                     !worker->draining &&
                         worker->hello.platform() == job.spec->platform()});
  }
  std::vector<int> current;
  for (const Job::Replica& replica : job.replicas) {
    auto it = index.find(replica.host);
    current.push_back(it == index.end() ? -1 : it->second);
  }
  const std::optional<std::vector<int>> plan = PlaceReplicas(loads, current);
  if (!plan.has_value()) return false;

  std::vector<std::string> moves;
  for (size_t r = 0; r < job.replicas.size(); ++r) {
    Job::Replica& replica = job.replicas[r];
    Worker& target = *candidates[(*plan)[r]];
    if (target.key == replica.host) continue;
    if (current[r] < 0) replica.loaded = false;  // never loaded, or host gone
    if (current[r] >= 0) {
      Worker& from = *candidates[current[r]];
      --from.hosted;
      moves.push_back(absl::StrCat(r, " ", from.id, "->", target.id));
      if (replica.loaded) {
        // Its state comes back in a ReplicaStateReport; RunRound waits.
        v1::CoordinatorMessage release;
        v1::ReleaseReplica& body = *release.mutable_release_replica();
        body.set_job_id(job.id);
        body.set_replica(static_cast<int32_t>(r));
        body.set_epoch(replica.epoch);
        body.set_want_state(true);
        Send(from, std::move(release));
        replica.releasing_from = from.key;
        replica.loaded = false;
        ++job.pending_states;
      }
    }
    ++target.hosted;
    replica.host = target.key;
  }
  if (!moves.empty()) {
    LogLine(absl::StrCat("job ", job.id, " moves replicas ",
                         absl::StrJoin(moves, ", ")));
    for (Worker* worker : candidates) UnloadIfUnused(*worker, job);
  }
  return true;
}

void WorkerRegistry::UnloadEverywhere(const std::string& job_id) {
  for (auto& [key, worker] : workers_) {
    if (worker->loaded_jobs.erase(job_id) > 0) {
      v1::CoordinatorMessage unload;
      unload.mutable_unload_job()->set_job_id(job_id);
      Send(*worker, std::move(unload));
    }
  }
}

void WorkerRegistry::UnloadIfUnused(Worker& worker, const Job& job) {
  if (worker.loaded_jobs.count(job.id) == 0 || job.Uses(worker.key)) return;
  worker.loaded_jobs.erase(job.id);
  v1::CoordinatorMessage unload;
  unload.mutable_unload_job()->set_job_id(job.id);
  Send(worker, std::move(unload));
}

absl::StatusOr<std::vector<runner::SegmentResult>> WorkerRegistry::RunRound(
    const std::string& job_id, const std::vector<runner::SegmentOrder>& orders,
    const std::function<void()>& meanwhile) {
  absl::MutexLock lock(&mu_);
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) {
    return absl::CancelledError(
        absl::StrCat("job ", job_id, " has been released"));
  }
  const std::shared_ptr<Job> job = it->second;
  if (!job->failure.ok()) return job->failure;
  const int n = static_cast<int>(job->replicas.size());
  if (static_cast<int>(orders.size()) != n) {
    return absl::InternalError(absl::StrCat(orders.size(), " orders for ", n,
                                            " replicas of job ", job_id));
  }
  for (int r = 0; r < n; ++r) {
    if (orders[r].replica != r || orders[r].round != orders[0].round) {
      return absl::InternalError("orders must be one per replica, in order");
    }
  }

  // The round boundary: new workers get replicas, draining ones lose theirs.
  // After a loss there may be no room for them yet: wait for a worker.
  bool waited = false;
  while (!Place(*job)) {
    if (!job->failure.ok()) return job->failure;
    if (!std::exchange(waited, true)) {
      LogLine(absl::StrCat("job ", job_id,
                           " waits for room for replicas that lost their "
                           "worker"));
    }
    RoomWait wait{&job->failure, &room_changes_, room_changes_};
    mu_.Await(absl::Condition(&wait, &RoomWait::Ready));
  }
  mu_.Await(absl::Condition(job.get(), &Job::StatesIn));
  if (!job->failure.ok()) return job->failure;

  job->open_round = orders[0].round;
  job->results.assign(n, std::nullopt);
  job->pending_results = n;
  // One SegmentOrders per host, sent after every LoadReplica it needs.
  std::map<uint64_t, v1::CoordinatorMessage> batches;
  for (const runner::SegmentOrder& order : orders) {
    Job::Replica& replica = job->replicas[order.replica];
    Worker& host = *workers_.at(replica.host);
    if (!replica.loaded) {
      if (host.loaded_jobs.insert(job_id).second) {
        v1::CoordinatorMessage load_job;
        load_job.mutable_load_job()->set_job_id(job_id);
        *load_job.mutable_load_job()->mutable_spec() = *job->spec;
        Send(host, std::move(load_job));
      }
      v1::CoordinatorMessage load;
      v1::LoadReplica& body = *load.mutable_load_replica();
      body.set_job_id(job_id);
      body.set_replica(order.replica);
      body.set_epoch(++replica.epoch);
      // The rung the state was made at, so that the order's rung change
      // rescales velocities as it would have on the old host.
      body.set_rung(replica.rung);
      // A replica starting from the initial coordinates draws the same
      // velocities as embedded mode, so a rollback to round 0 replays it
      // exactly. One restored from a state takes its velocities from it,
      // but on platforms with a per-Context noise stream (CPU, GPU) this
      // seed starts that stream: a fresh one per epoch keeps a moved replica
      // from replaying the random forces of its first Context.
      const uint64_t velocity_seed =
          runner::VelocitySeed(job->spec->seed(), order.replica);
      body.set_velocity_seed(
          replica.velocity_seed.has_value() ? *replica.velocity_seed
          : replica.state.empty()
              ? velocity_seed
              : exchange::DeriveSeed(velocity_seed, replica.epoch));
      body.set_redraw_velocities(replica.redraw_velocities);
      body.set_state(std::move(replica.state));
      replica.state.clear();
      replica.velocity_seed.reset();
      replica.redraw_velocities = false;
      Send(host, std::move(load));
      replica.loaded = true;
    }
    v1::SegmentOrder& body =
        *batches[replica.host].mutable_segment_orders()->add_orders();
    body.set_job_id(job_id);
    body.set_replica(order.replica);
    body.set_round(order.round);
    body.set_epoch(replica.epoch);
    body.set_rung(order.rung);
    body.set_steps(order.steps);
    body.set_segment_seed(order.segment_seed);
    body.mutable_evaluate_rungs()->Assign(order.evaluate_rungs.begin(),
                                          order.evaluate_rungs.end());
    body.set_want_positions(order.want_positions);
    body.set_want_state(order.want_state);
    replica.rung = order.rung;
  }
  for (auto& [key, batch] : batches) Send(*workers_.at(key), std::move(batch));
  if (options_.metrics != nullptr) options_.metrics->RoundOrdersOut(job_id);
  if (meanwhile) {
    // Unlocked, the session writers send the orders while `meanwhile` runs.
    mu_.Unlock();
    meanwhile();
    mu_.Lock();
  }
  mu_.Await(absl::Condition(job.get(), &Job::ResultsIn));
  job->open_round = -1;
  if (!job->failure.ok()) return job->failure;
  std::vector<runner::SegmentResult> results;
  results.reserve(n);
  for (std::optional<runner::SegmentResult>& result : job->results) {
    results.push_back(*std::move(result));
  }
  return results;
}

void WorkerRegistry::ReleaseJob(const std::string& job_id,
                                const absl::Status& why) {
  absl::MutexLock lock(&mu_);
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) return;
  Job& job = *it->second;
  if (job.failure.ok()) job.failure = why;
  UnloadEverywhere(job_id);
  for (const Job::Replica& replica : job.replicas) {
    if (Worker* host = FindWorker(replica.host); host != nullptr) {
      --host->hosted;
    }
  }
  jobs_.erase(it);
  ++room_changes_;
}

absl::Status WorkerRegistry::ReloadJob(
    const std::string& job_id,
    const std::vector<JobExecutor::ReplicaStart>& starts) {
  absl::MutexLock lock(&mu_);
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) {
    return absl::CancelledError(
        absl::StrCat("job ", job_id, " has been released"));
  }
  if (shut_down_) {
    return absl::UnavailableError("the coordinator is shutting down");
  }
  Job& job = *it->second;
  if (starts.size() != job.replicas.size()) {
    return absl::InternalError(absl::StrCat(starts.size(), " starts for ",
                                            job.replicas.size(),
                                            " replicas of job ", job_id));
  }
  // Workers drop the job's Contexts and queued orders; the next round
  // loads every replica again with a new epoch.
  UnloadEverywhere(job_id);
  for (size_t r = 0; r < starts.size(); ++r) {
    Job::Replica& replica = job.replicas[r];
    replica.loaded = false;
    replica.releasing_from = 0;
    replica.state = starts[r].state;
    replica.rung = starts[r].rung;
    replica.velocity_seed = starts[r].velocity_seed;
    replica.redraw_velocities = starts[r].redraw_velocities;
  }
  job.pending_states = 0;
  job.pending_results = 0;
  job.open_round = -1;
  job.failure = absl::OkStatus();
  return absl::OkStatus();
}

int WorkerRegistry::WorkersHosting(const std::string& job_id) const {
  absl::MutexLock lock(&mu_);
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) return 0;
  std::set<uint64_t> hosts;
  for (const Job::Replica& replica : it->second->replicas) {
    if (workers_.count(replica.host) > 0) hosts.insert(replica.host);
  }
  return static_cast<int>(hosts.size());
}

// ---- messages from workers ----

WorkerRegistry::Worker* WorkerRegistry::FindWorker(uint64_t key) {
  auto it = workers_.find(key);
  return it == workers_.end() ? nullptr : it->second.get();
}

WorkerRegistry::Job* WorkerRegistry::MatchResult(const Worker& worker,
                                                 const std::string& job_id,
                                                 int replica, int64_t round,
                                                 int64_t epoch) {
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) return nullptr;  // released: a late result
  Job& job = *it->second;
  if (replica < 0 || replica >= static_cast<int>(job.replicas.size())) {
    return nullptr;
  }
  const Job::Replica& placed = job.replicas[replica];
  if (placed.host != worker.key || placed.epoch != epoch || !placed.loaded) {
    // A superseded assignment: the replica moved, or its job rolled back.
    LogLine(absl::StrCat("dropped a stale result from worker ", worker.id,
                         ": job ", job_id, " replica ", replica, " round ",
                         round, " epoch ", epoch, " (current epoch ",
                         placed.epoch, ")"));
    return nullptr;
  }
  if (job.open_round != round || job.results[replica].has_value()) {
    return nullptr;  // another round, a duplicate
  }
  return &job;
}

void WorkerRegistry::OnSegmentDone(Worker& worker,
                                   const v1::SegmentDone& done) {
  Job* job = MatchResult(worker, done.job_id(), done.replica(), done.round(),
                         done.epoch());
  if (job == nullptr || !job->failure.ok()) return;
  runner::SegmentResult result;
  result.potential_kj_mol = done.potential_kj_mol();
  result.reduced.assign(done.reduced().begin(), done.reduced().end());
  result.positions_nm.reserve(done.positions_nm_size() / 3);
  for (int i = 0; i + 2 < done.positions_nm_size(); i += 3) {
    result.positions_nm.push_back({done.positions_nm(i),
                                   done.positions_nm(i + 1),
                                   done.positions_nm(i + 2)});
  }
  result.state = done.state();
  job->results[done.replica()] = std::move(result);
  --job->pending_results;
  if (options_.metrics != nullptr) {
    options_.metrics->SegmentDone(job->id, worker.name(), *job->spec,
                                  done.seconds(), job->pending_results == 0);
  }
}

void WorkerRegistry::OnSegmentFailed(Worker& worker,
                                     const v1::SegmentFailed& failed) {
  Job* job = MatchResult(worker, failed.job_id(), failed.replica(),
                         failed.round(), failed.epoch());
  if (job == nullptr || !job->failure.ok()) return;
  // A wrong job fails; a failed integration restarts the replica from the
  // job's last checkpoint (the job manager rolls back).
  job->failure =
      failed.invalid_input()
          ? absl::InvalidArgumentError(failed.error())
          : ReplicaFaultError(
                failed.replica(),
                absl::StrCat("replica ", failed.replica(), " failed in round ",
                             failed.round(), " on worker ", worker.id, ": ",
                             failed.error()));
}

void WorkerRegistry::OnReplicaState(Worker& worker,
                                    const v1::ReplicaStateReport& report) {
  auto it = jobs_.find(report.job_id());
  if (it == jobs_.end()) return;
  Job& job = *it->second;
  if (report.replica() < 0 ||
      report.replica() >= static_cast<int>(job.replicas.size())) {
    return;
  }
  Job::Replica& replica = job.replicas[report.replica()];
  if (replica.releasing_from != worker.key || replica.epoch != report.epoch()) {
    return;
  }
  if (report.state().empty() && job.failure.ok()) {
    // Loading nothing would restart it from the initial coordinates.
    job.failure = absl::InternalError(absl::StrCat(
        "worker ", worker.id, " handed back replica ", report.replica(),
        " of job ", job.id, " without its state, so it cannot move"));
  }
  replica.state = report.state();
  if (report.rung() >= 0 &&
      report.rung() < static_cast<int>(job.replicas.size())) {
    replica.rung = report.rung();
  }
  replica.releasing_from = 0;
  --job.pending_states;
  UnloadIfUnused(worker, job);
  if (worker.draining && worker.hosted == 0) {
    LogLine(absl::StrCat("worker ", worker.id,
                         " drained: it hosts no replicas and may stop"));
  }
}

void WorkerRegistry::OnGoodbye(Worker& worker, const v1::Goodbye& goodbye) {
  // Everything sent before this has reached the worker when the ack does:
  // an idle worker may leave then without stranding a placement.
  v1::CoordinatorMessage ack;
  ack.mutable_goodbye_ack();
  Send(worker, std::move(ack));
  if (worker.draining) return;
  worker.draining = true;
  LogLine(absl::StrCat(
      "worker ", worker.id, " draining (",
      goodbye.reason().empty() ? "no reason given" : goodbye.reason(),
      "): its ", worker.hosted,
      " replicas move at their jobs' next round boundaries"));
}

void WorkerRegistry::Lose(Worker& worker, const std::string& why,
                          absl::Status end) {
  if (worker.gone) return;
  worker.gone = true;
  worker.outbox.clear();
  EndSession(worker, std::move(end));
  LogLine(absl::StrCat("worker ", worker.id, " lost: ", why));
  if (options_.metrics != nullptr) options_.metrics->WorkerLost();
  const absl::Status failure = WorkerLostError(
      absl::StrCat("worker ", worker.name(), " lost (", why, ")"));
  // Jobs with replicas merely assigned here place them elsewhere at their
  // next round (a gone worker is no candidate).
  for (auto& [id, job] : jobs_) {
    if (job->failure.ok() && job->DependsOn(worker.key)) {
      job->failure = failure;
    }
  }
}

void WorkerRegistry::EndSession(Worker& worker, absl::Status end) {
  if (worker.end.has_value()) return;
  worker.end = std::move(end);
  if (worker.end_session) worker.end_session();
}

void WorkerRegistry::Send(Worker& worker, v1::CoordinatorMessage message) {
  if (worker.gone || worker.end.has_value()) return;
  worker.outbox.push_back(std::move(message));
}

// ---- RemoteExecutor ----

RemoteExecutor::~RemoteExecutor() {
  registry_->ReleaseJob(job_id_, absl::CancelledError("the job has ended"));
}

absl::StatusOr<std::vector<runner::SegmentResult>> RemoteExecutor::RunSegments(
    const std::vector<runner::SegmentOrder>& orders) {
  return registry_->RunRound(job_id_, orders, nullptr);
}

absl::StatusOr<std::vector<runner::SegmentResult>>
RemoteExecutor::RunSegmentsOverlapping(
    const std::vector<runner::SegmentOrder>& orders,
    const std::function<void()>& meanwhile) {
  return registry_->RunRound(job_id_, orders, meanwhile);
}

void RemoteExecutor::Release(const absl::Status& why) {
  registry_->ReleaseJob(job_id_, why);
}

absl::Status RemoteExecutor::Reload(const std::vector<ReplicaStart>& starts) {
  return registry_->ReloadJob(job_id_, starts);
}

int RemoteExecutor::workers() const {
  return registry_->WorkersHosting(job_id_);
}

}  // namespace replex::coordinator
