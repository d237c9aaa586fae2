// The worker registry's sessions: workers joining, their messages,
// heartbeats, losses and leaves. Rounds and placement are in
// worker_rounds.cc.
#include "coordinator/worker_registry.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "coordinator/checkpoint_recovery.h"
#include "coordinator/coordinator_metrics.h"
#include "coordinator/worker_registry_state.h"
#include "lib/service/process.h"

namespace replex::coordinator {

WorkerRegistry::WorkerRegistry(Options options, timing::Clock* clock)
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
  if (hello.slots() > kMaxSlots ||
      hello.max_replicas() > kMaxReplicasPerWorker) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Register.slots (", hello.slots(), ") must be at most ", kMaxSlots,
        " and Register.max_replicas (", hello.max_replicas(), ") at most ",
        kMaxReplicasPerWorker));
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
    service::LogLine(absl::StrCat(
        "worker ", worker->id, " joined: platform ", hello.platform(), ", ",
        hello.slots(), " slots, max ", hello.max_replicas(), " replicas",
        hello.hostname().empty() ? ""
                                 : absl::StrCat(", host ", hello.hostname()),
        hello.devices().empty()
            ? ""
            : absl::StrCat(", devices ", absl::StrJoin(hello.devices(), ",")),
        // What OpenMM could run there; bounded, as it comes from the worker.
        hello.openmm_plugins().empty()
            ? ""
            : absl::StrCat(
                  "; ",
                  absl::string_view(hello.openmm_plugins()).substr(0, 2000))));
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
    case v1::WorkerMessage::kSegmentDones:
      for (const v1::SegmentDone& done : message.segment_dones().done()) {
        OnSegmentDone(*worker, done);
      }
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
      service::LogLine(absl::StrCat("worker ", worker.id, " left"));
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

WorkerRegistry::Worker* WorkerRegistry::FindWorker(uint64_t key) {
  auto it = workers_.find(key);
  return it == workers_.end() ? nullptr : it->second.get();
}

void WorkerRegistry::OnGoodbye(Worker& worker, const v1::Goodbye& goodbye) {
  // Everything sent before this has reached the worker when the ack does:
  // an idle worker may leave then without stranding a placement.
  v1::CoordinatorMessage ack;
  ack.mutable_goodbye_ack();
  Send(worker, std::move(ack));
  if (worker.draining) return;
  worker.draining = true;
  service::LogLine(absl::StrCat(
      "worker ", worker.id, " draining (",
      goodbye.reason().empty() ? "no reason given" : goodbye.reason(),
      "): its ", worker.hosted,
      " replicas move at their jobs' next round boundaries (an asynchronous "
      "job's: a barrier it calls for)"));
}

void WorkerRegistry::Lose(Worker& worker, const std::string& why,
                          absl::Status end) {
  if (worker.gone) return;
  worker.gone = true;
  worker.outbox.clear();
  EndSession(worker, std::move(end));
  service::LogLine(absl::StrCat("worker ", worker.id, " lost: ", why));
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

}  // namespace replex::coordinator
