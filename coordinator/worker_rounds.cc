// The worker registry's rounds: admitting and placing jobs, moving
// replicas, sending a round's orders and collecting its results, rollbacks,
// and the JobExecutor the job manager drives. Sessions are in
// worker_registry.cc.
#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "coordinator/checkpoint_recovery.h"
#include "coordinator/coordinator_metrics.h"
#include "coordinator/placement.h"
#include "coordinator/worker_registry.h"
#include "coordinator/worker_registry_state.h"
#include "lib/exchange/seeds.h"
#include "lib/service/process.h"
#include "lib/wire/wire.h"

namespace replex::coordinator {
namespace {

// What a job waiting for room to place its replicas waits for.
struct RoomWait {
  const absl::Status* failure;
  const int64_t* room_changes;
  int64_t seen;
  bool Ready() const { return !failure->ok() || *room_changes != seen; }
};

}  // namespace

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
  job->open_rounds.assign(n_replicas, -1);
  job->results.resize(n_replicas);
  for (int r = 0; r < n_replicas; ++r) {
    job->replicas[r].rung = r;
    job->replicas[r].epoch = options_.epoch_base;
  }
  if (!Place(*job)) {
    const std::string& platform = job->spec->platform();
    int connected = 0, free = 0, total = 0;
    for (const auto& [key, worker] : workers_) {
      if (worker->gone || worker->draining ||
          worker->hello.platform() != platform) {
        continue;
      }
      ++connected;
      free += std::max(0, worker->hello.max_replicas() - worker->hosted);
      total += worker->hello.max_replicas();
    }
    return absl::ResourceExhaustedError(
        connected == 0
            ? absl::StrCat("no ", platform, " worker is connected")
            : absl::StrCat(
                  n_replicas, " replicas need places; the ", connected, " ",
                  platform, " worker(s) have ", free, " free of ", total,
                  " in all (max_replicas less replicas hosted)",
                  n_replicas > total
                      ? absl::StrCat("; it waits for more ", platform,
                                     " workers: the connected ones cannot "
                                     "host it even when idle")
                      : ""));
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
      // Its state comes back in a ReplicaStateReport; SendRound waits.
      if (replica.loaded) HandBack(job, static_cast<int>(r), from);
    }
    ++target.hosted;
    replica.host = target.key;
  }
  if (!moves.empty()) {
    service::LogLine(absl::StrCat("job ", job.id, " moves replicas ",
                                  absl::StrJoin(moves, ", ")));
    for (Worker* worker : candidates) UnloadIfUnused(*worker, job);
  }
  return true;
}

void WorkerRegistry::HandBack(Job& job, int replica, Worker& from) {
  Job::Replica& placed = job.replicas[replica];
  v1::CoordinatorMessage release;
  v1::ReleaseReplica& body = *release.mutable_release_replica();
  body.set_job_id(job.id);
  body.set_replica(replica);
  body.set_epoch(placed.epoch);
  body.set_want_state(true);
  Send(from, std::move(release));
  placed.releasing_from = from.key;
  placed.loaded = false;
  ++job.pending_states;
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

absl::StatusOr<std::shared_ptr<WorkerRegistry::Job>>
WorkerRegistry::FindLiveJob(const std::string& job_id) {
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) {
    return absl::CancelledError(
        absl::StrCat("job ", job_id, " has been released"));
  }
  if (!it->second->failure.ok()) return it->second->failure;
  return it->second;
}

absl::StatusOr<std::shared_ptr<WorkerRegistry::Job>> WorkerRegistry::SendRound(
    const std::string& job_id,
    const std::vector<runner::SegmentOrder>& orders) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<std::shared_ptr<Job>> found = FindLiveJob(job_id);
  if (!found.ok()) return found.status();
  const std::shared_ptr<Job> job = *std::move(found);
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

  if (absl::Status placed = PlaceAll(job); !placed.ok()) return placed;
  if (absl::Status sent = SendOrders(*job, orders, /*round=*/true);
      !sent.ok()) {
    return sent;
  }
  if (options_.metrics != nullptr) options_.metrics->RoundOrdersOut(job_id);
  return job;
}

absl::StatusOr<std::shared_ptr<WorkerRegistry::Job>>
WorkerRegistry::StartSegment(const std::string& job_id,
                             const runner::SegmentOrder& order, bool place) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<std::shared_ptr<Job>> found = FindLiveJob(job_id);
  if (!found.ok()) return found.status();
  const std::shared_ptr<Job> job = *std::move(found);
  if (order.replica < 0 ||
      order.replica >= static_cast<int>(job->replicas.size()) ||
      job->open_rounds[order.replica] >= 0) {
    return absl::InternalError(absl::StrCat(
        "replica ", order.replica, " of job ", job_id,
        " was given a segment while it has one out, or does not exist"));
  }
  if (place) {
    if (absl::Status placed = PlaceAll(job); !placed.ok()) return placed;
  }
  if (absl::Status sent = SendOrders(*job, {order}, /*round=*/false);
      !sent.ok()) {
    return sent;
  }
  return job;
}

absl::Status WorkerRegistry::PlaceAll(const std::shared_ptr<Job>& job) {
  bool waited = false;
  while (true) {
    if (!job->failure.ok()) return job->failure;
    if (!Place(*job)) {
      if (!std::exchange(waited, true)) {
        service::LogLine(
            absl::StrCat("job ", job->id,
                         " waits for room for replicas that lost their "
                         "worker"));
      }
      RoomWait wait{&job->failure, &room_changes_, room_changes_};
      mu_.Await(absl::Condition(&wait, &RoomWait::Ready));
      continue;
    }
    if (!job->StatesIn()) {
      mu_.Await(absl::Condition(job.get(), &Job::StatesIn));
      continue;
    }
    return absl::OkStatus();
  }
}

absl::Status WorkerRegistry::SendOrders(
    Job& job, const std::vector<runner::SegmentOrder>& orders, bool round) {
  const std::string& job_id = job.id;
  // A worker of an earlier release takes the rung's temperature from the
  // order but knows no versions, so it would run a version's parameters as
  // the spec's: those results must echo the version.
  job.echoed_version = orders[0].ladder != nullptr &&
                               !orders[0].ladder->parameter_names().empty()
                           ? orders[0].ladder_version
                           : 0;
  // A round's orders go out right after placement, under this lock, but an
  // asynchronous job's go one at a time: a worker given a replica at the
  // last barrier may have been lost since, holding none of its state yet
  // (so the loss did not fail the job). Its replicas go back to the last
  // checkpoint like any others.
  for (const runner::SegmentOrder& order : orders) {
    const Worker* host = FindWorker(job.replicas[order.replica].host);
    if (host == nullptr || host->gone) {
      job.failure = WorkerLostError(
          absl::StrCat("the worker given replica ", order.replica, " of job ",
                       job_id, " was lost before its segment was sent"));
      return job.failure;
    }
  }
  // One SegmentOrders per host, sent after every LoadReplica it needs.
  std::map<uint64_t, v1::CoordinatorMessage> batches;
  for (const runner::SegmentOrder& order : orders) {
    job.open_rounds[order.replica] = order.round;
    job.results[order.replica].reset();
    ++job.pending_results;
    Job::Replica& replica = job.replicas[order.replica];
    Worker& host = *FindWorker(replica.host);
    if (!replica.loaded) {
      if (host.loaded_jobs.emplace(job_id, 0).second) {
        v1::CoordinatorMessage load_job;
        load_job.mutable_load_job()->set_job_id(job_id);
        *load_job.mutable_load_job()->mutable_spec() = *job.spec;
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
      body.set_temperature_k(replica.temperature_k);
      // A replica starting from the initial coordinates draws the same
      // velocities as embedded mode, so a rollback to round 0 replays it
      // exactly. One restored from a state takes its velocities from it,
      // but on platforms with a per-Context noise stream (CPU, GPU) this
      // seed starts that stream: a fresh one per epoch keeps a moved replica
      // from replaying the random forces of its first Context.
      const uint64_t job_seed = job.spec->seed();
      body.set_velocity_seed(
          replica.velocity_seed.has_value() ? *replica.velocity_seed
          : replica.state.empty()
              ? exchange::VelocitySeed(job_seed, order.replica)
              : exchange::MovedVelocitySeed(job_seed, order.replica,
                                            replica.epoch));
      body.set_redraw_velocities(replica.redraw_velocities);
      body.set_state(std::move(replica.state));
      replica.state.clear();
      replica.velocity_seed.reset();
      replica.redraw_velocities = false;
      Send(host, std::move(load));
      replica.loaded = true;
    }
    v1::SegmentOrder& sent =
        *batches[replica.host].mutable_segment_orders()->add_orders();
    sent = wire::ToProto(order, job_id, replica.epoch);
    sent.set_batch_result(round);
    replica.rung = order.rung;
    replica.temperature_k = order.ladder != nullptr
                                ? order.ladder->rung(order.rung).temperature_k
                                : 0;
  }
  // Every host was found above, under this lock; none can have gone since.
  for (auto& [key, batch] : batches) {
    if (Worker* host = FindWorker(key); host != nullptr) {
      SendLadderVersion(*host, job_id, orders[0]);
      Send(*host, std::move(batch));
    }
  }
  return absl::OkStatus();
}

void WorkerRegistry::SendLadderVersion(Worker& worker,
                                       const std::string& job_id,
                                       const runner::SegmentOrder& order) {
  if (order.ladder == nullptr) return;
  // A worker given orders has the job loaded (SendRound sent it LoadJob).
  auto loaded = worker.loaded_jobs.find(job_id);
  if (loaded == worker.loaded_jobs.end() ||
      loaded->second == order.ladder_version) {
    return;
  }
  v1::CoordinatorMessage message;
  v1::LadderUpdate& update = *message.mutable_ladder_update();
  update.set_job_id(job_id);
  update.set_version(order.ladder_version);
  for (const exchange::Rung& rung : order.ladder->rungs()) {
    update.add_temperatures_k(rung.temperature_k);
    update.mutable_parameters()->Add(rung.parameters.begin(),
                                     rung.parameters.end());
  }
  Send(worker, std::move(message));
  loaded->second = order.ladder_version;
}

absl::StatusOr<std::vector<runner::SegmentResult>> WorkerRegistry::AwaitRound(
    const std::shared_ptr<Job>& job) {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(job.get(), &Job::ResultsIn));
  job->open_rounds.assign(job->replicas.size(), -1);
  job->arrived.clear();
  if (!job->failure.ok()) return job->failure;
  std::vector<runner::SegmentResult> results;
  results.reserve(job->results.size());
  for (std::optional<runner::SegmentResult>& result : job->results) {
    results.push_back(*std::move(result));
  }
  return results;
}

WorkerRegistry::Arrival WorkerRegistry::AwaitSegment(
    const std::shared_ptr<Job>& job) {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(job.get(), &Job::ArrivedOrFailed));
  if (job->arrived.empty()) return {job->failed_replica, job->failure};
  const int replica = job->arrived.front();
  job->arrived.pop_front();
  job->open_rounds[replica] = -1;
  Arrival arrival{replica, *std::move(job->results[replica])};
  job->results[replica].reset();
  return arrival;
}

bool WorkerRegistry::SlotFree(
    const std::string& job_id,
    const std::map<int, runner::SegmentOrder>& out) const {
  absl::MutexLock lock(&mu_);
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) return false;
  std::map<uint64_t, int> running;
  const std::vector<Job::Replica>& replicas = it->second->replicas;
  for (size_t r = 0; r < replicas.size(); ++r) {
    running[replicas[r].host] += out.count(static_cast<int>(r));
  }
  for (const auto& [key, count] : running) {
    auto worker = workers_.find(key);
    if (worker != workers_.end() && count < worker->second->hello.slots()) {
      return true;
    }
  }
  return false;
}

absl::StatusOr<std::vector<std::string>> WorkerRegistry::ReadStates(
    const std::string& job_id) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<std::shared_ptr<Job>> found = FindLiveJob(job_id);
  if (!found.ok()) return found.status();
  const std::shared_ptr<Job> job = *std::move(found);
  for (size_t r = 0; r < job->replicas.size(); ++r) {
    Job::Replica& replica = job->replicas[r];
    Worker* host = FindWorker(replica.host);
    // The move protocol, to the same host unless placement says otherwise
    // at the next start: every worker release supports it, and the barrier
    // that follows is where replicas may move anyway.
    if (replica.loaded && host != nullptr) {
      HandBack(*job, static_cast<int>(r), *host);
    }
  }
  mu_.Await(absl::Condition(job.get(), &Job::StatesIn));
  if (!job->failure.ok()) return job->failure;
  std::vector<std::string> states;
  for (size_t r = 0; r < job->replicas.size(); ++r) {
    if (job->replicas[r].state.empty()) {
      return absl::InternalError(absl::StrCat("replica ", r, " of job ", job_id,
                                              " has no state to checkpoint"));
    }
    states.push_back(job->replicas[r].state);
  }
  return states;
}

bool WorkerRegistry::HostDraining(const std::string& job_id) const {
  absl::MutexLock lock(&mu_);
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) return false;
  for (const Job::Replica& replica : it->second->replicas) {
    auto host = workers_.find(replica.host);
    if (host != workers_.end() && host->second->draining) return true;
  }
  return false;
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
    replica.temperature_k = starts[r].temperature_k;
    replica.velocity_seed = starts[r].velocity_seed;
    replica.redraw_velocities = starts[r].redraw_velocities;
  }
  job.pending_states = 0;
  job.pending_results = 0;
  job.open_rounds.assign(starts.size(), -1);
  job.arrived.clear();
  job.failed_replica = -1;
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
    service::LogLine(absl::StrCat("dropped a stale result from worker ",
                                  worker.id, ": job ", job_id, " replica ",
                                  replica, " round ", round, " epoch ", epoch,
                                  " (current epoch ", placed.epoch, ")"));
    return nullptr;
  }
  if (job.open_rounds[replica] != round || job.results[replica].has_value()) {
    return nullptr;  // another round, a duplicate
  }
  return &job;
}

void WorkerRegistry::OnSegmentDone(Worker& worker,
                                   const v1::SegmentDone& done) {
  Job* job = MatchResult(worker, done.job_id(), done.replica(), done.round(),
                         done.epoch());
  if (job == nullptr || !job->failure.ok()) return;
  if (done.ladder_version() != job->echoed_version && job->echoed_version > 0) {
    job->failure = absl::FailedPreconditionError(absl::StrCat(
        "worker ", worker.id, " ran replica ", done.replica(), "'s round ",
        done.round(), " without version ", job->echoed_version,
        " of the job's adaptive ladder: it is of an earlier release, which "
        "knows no ladder versions and would have used the spec's parameter "
        "values; upgrade it"));
    return;
  }
  job->results[done.replica()] = wire::FromProto(done);
  job->arrived.push_back(done.replica());
  --job->pending_results;
  if (options_.metrics != nullptr) {
    // Asynchronous exchange has no rounds whose overhead to time.
    options_.metrics->SegmentDone(
        job->id, worker.name(), *job->spec, done.seconds(),
        job->spec->exchange().mode() != v1::Exchange::ASYNCHRONOUS &&
            job->pending_results == 0);
  }
}

void WorkerRegistry::OnSegmentFailed(Worker& worker,
                                     const v1::SegmentFailed& failed) {
  Job* job = MatchResult(worker, failed.job_id(), failed.replica(),
                         failed.round(), failed.epoch());
  if (job == nullptr || !job->failure.ok()) return;
  // A wrong job fails; a failed integration restarts the replica from the
  // job's last checkpoint (the job manager rolls back).
  job->failed_replica = failed.replica();
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
    // With the rung, the temperature the state was made at (an adaptive
    // ladder's; 0 from a worker that does not say).
    replica.temperature_k = report.temperature_k();
  }
  replica.releasing_from = 0;
  --job.pending_states;
  UnloadIfUnused(worker, job);
  if (worker.draining && worker.hosted == 0) {
    service::LogLine(absl::StrCat(
        "worker ", worker.id, " drained: it hosts no replicas and may stop"));
  }
}

// ---- RemoteExecutor ----

RemoteExecutor::~RemoteExecutor() {
  registry_->ReleaseJob(job_id_, absl::CancelledError("the job has ended"));
}

absl::StatusOr<std::vector<runner::SegmentResult>> RemoteExecutor::RunSegments(
    const std::vector<runner::SegmentOrder>& orders) {
  return RunSegmentsOverlapping(orders, [] {});
}

absl::StatusOr<std::vector<runner::SegmentResult>>
RemoteExecutor::RunSegmentsOverlapping(
    const std::vector<runner::SegmentOrder>& orders,
    const std::function<void()>& meanwhile) {
  absl::StatusOr<std::shared_ptr<WorkerRegistry::Job>> round =
      registry_->SendRound(job_id_, orders);
  if (!round.ok()) return round.status();
  // No lock is held here: the session writers send the orders meanwhile.
  meanwhile();
  return registry_->AwaitRound(*round);
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

bool RemoteExecutor::SlotFree() const {
  return registry_->SlotFree(job_id_, out_);
}

void RemoteExecutor::Start(const runner::SegmentOrder& order) {
  // Replicas are placed only while none of the job's segments runs, so no
  // running replica is moved (its result would be stale on arrival).
  absl::StatusOr<std::shared_ptr<WorkerRegistry::Job>> job =
      registry_->StartSegment(job_id_, order, out_.empty() && refused_.empty());
  if (!job.ok()) {
    refused_.push_back({order, job.status()});
    return;
  }
  job_ = *std::move(job);
  out_.emplace(order.replica, order);
}

runner::SegmentStream::Finished RemoteExecutor::Next() {
  if (!refused_.empty()) {
    Finished refused = std::move(refused_.front());
    refused_.pop_front();
    return refused;
  }
  if (out_.empty() || job_ == nullptr) {
    return {runner::SegmentOrder{},
            absl::InternalError("Next was called with no segment out")};
  }
  WorkerRegistry::Arrival arrival = registry_->AwaitSegment(job_);
  auto it = out_.find(arrival.replica);
  if (it == out_.end()) {
    if (arrival.result.ok()) {
      // The registry matches results to open orders, so this cannot be.
      arrival.result = absl::InternalError(
          absl::StrCat("a result for replica ", arrival.replica,
                       ", which has no segment out"));
    }
    // A failure is returned for each segment out in turn, its own replica's
    // first.
    it = out_.begin();
  }
  Finished finished{std::move(it->second), std::move(arrival.result)};
  out_.erase(it);
  if (finished.result.ok()) {
    if (absl::Status finite = CheckFinite(
            finished.order.replica, *finished.result, finished.order.round);
        !finite.ok()) {
      finished.result = finite;
    }
  }
  return finished;
}

bool RemoteExecutor::HostDraining() const {
  return registry_->HostDraining(job_id_);
}

absl::StatusOr<std::vector<std::string>> RemoteExecutor::States() {
  return registry_->ReadStates(job_id_);
}

}  // namespace replex::coordinator
