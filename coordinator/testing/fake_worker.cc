#include "coordinator/testing/fake_worker.h"

#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "lib/wire/wire.h"

namespace replex::coordinator {

v1::JobSpec TestSpec(int n_rungs, int n_rounds, bool hamiltonian,
                     const std::string& platform) {
  v1::JobSpec spec;
  spec.set_name("test");
  spec.set_system_xml("<System/>");
  spec.set_state_xml("<State/>");
  spec.set_seed(17);
  spec.set_platform(platform);
  spec.mutable_exchange()->set_steps_per_exchange(10);
  spec.mutable_exchange()->set_n_rounds(n_rounds);
  v1::Ladder& ladder = *spec.mutable_ladder();
  for (int k = 0; k < n_rungs; ++k) ladder.add_temperatures_k(300 + 10 * k);
  if (hamiltonian) {
    v1::ParameterLadder& lambda = *ladder.add_parameters();
    lambda.set_name("lambda");
    for (int k = 0; k < n_rungs; ++k) lambda.add_values(0.1 * k);
  }
  return spec;
}

std::vector<std::string> DescribeEvents(
    const std::vector<v1::JobEvent>& events) {
  std::vector<std::string> out;
  for (const v1::JobEvent& event : events) {
    out.push_back(event.has_round()
                      ? absl::StrCat("round ", event.round().round())
                      : v1::JobState_Name(event.snapshot().state()));
  }
  return out;
}

double FakePotential(int replica, int64_t round) {
  return -100 + 10 * std::sin(replica * 7.0 + round);
}

double FakeReduced(int replica, int64_t round, int rung) {
  return FakePotential(replica, round) * (1 + 0.1 * rung) / 2.5;
}

v1::WorkerMessage FakeSegmentDone(const v1::SegmentOrder& order) {
  runner::SegmentResult result;
  result.potential_kj_mol = FakePotential(order.replica(), order.round());
  for (int rung : order.evaluate_rungs()) {
    result.reduced.push_back(FakeReduced(order.replica(), order.round(), rung));
  }
  if (order.want_state()) {
    result.state = absl::StrCat("state of ", order.job_id(), "/",
                                order.replica(), " after round ",
                                order.round());
  }
  return wire::SegmentDone(order, std::move(result), 0);
}

FakeWorker::FakeWorker(WorkerRegistry* registry, const std::string& name,
                       int slots, int max_replicas, const std::string& platform)
    : registry_(registry) {
  v1::Register hello;
  hello.set_worker_name(name);
  hello.set_slots(slots);
  hello.set_max_replicas(max_replicas);
  hello.set_platform(platform);
  absl::StatusOr<WorkerRegistry::Session> session =
      registry_->Connect(hello, [] {});
  if (!session.ok()) {
    status_ = session.status();
    absl::MutexLock lock(&leave_mu_);
    left_ = status_;
    return;
  }
  key_ = session->key;
  worker_id_ = session->worker_id;
  thread_ = std::thread(&FakeWorker::Serve, this);
}

FakeWorker::~FakeWorker() { Leave().IgnoreError(); }

void FakeWorker::SayGoodbye() {
  v1::WorkerMessage goodbye;
  goodbye.mutable_goodbye()->set_reason("test");
  registry_->Receive(key_, goodbye);
}

absl::Status FakeWorker::Leave() {
  absl::MutexLock lock(&leave_mu_);
  if (!left_.has_value()) {
    left_ = registry_->Disconnect(key_);
    thread_.join();
  }
  return *left_;
}

void FakeWorker::Serve() {
  std::vector<v1::CoordinatorMessage> batch;
  while (registry_->NextOutgoing(key_, &batch)) {
    for (const v1::CoordinatorMessage& message : batch) {
      for (const v1::WorkerMessage& reply : Handle(message)) {
        registry_->Receive(key_, reply);
      }
    }
  }
}

std::optional<v1::WorkerMessage> FakeWorker::Run(
    const v1::SegmentOrder& order) {
  auto it = hosted_.find({order.job_id(), order.replica()});
  if (it == hosted_.end() || it->second.epoch != order.epoch()) {
    ++bad_orders_;
    return std::nullopt;
  }
  it->second.rung = order.rung();
  it->second.last_round = order.round();
  ++segments_run_;
  return FakeSegmentDone(order);
}

std::vector<v1::WorkerMessage> FakeWorker::Handle(
    const v1::CoordinatorMessage& in) {
  absl::MutexLock lock(&mu_);
  if (!in.has_heartbeat()) received_.push_back(in);
  v1::WorkerMessage reply;
  switch (in.message_case()) {
    case v1::CoordinatorMessage::kLoadJob:
      jobs_.insert(in.load_job().job_id());
      return {};
    case v1::CoordinatorMessage::kLoadReplica: {
      const v1::LoadReplica& load = in.load_replica();
      if (jobs_.count(load.job_id()) == 0) ++bad_orders_;
      hosted_[{load.job_id(), load.replica()}] = {load.epoch(), load.rung(),
                                                  -1};
      return {};
    }
    case v1::CoordinatorMessage::kSegmentOrders: {
      // As the real worker does: a synchronous round's results
      // (batch_result) in one SegmentDones, others one by one.
      std::vector<v1::WorkerMessage> replies;
      v1::WorkerMessage batch;
      for (const v1::SegmentOrder& order : in.segment_orders().orders()) {
        std::optional<v1::WorkerMessage> done = Run(order);
        if (!done.has_value()) continue;
        if (order.batch_result()) {
          *batch.mutable_segment_dones()->add_done() = done->segment_done();
        } else {
          replies.push_back(*std::move(done));
        }
      }
      if (batch.has_segment_dones()) replies.push_back(std::move(batch));
      return replies;
    }
    case v1::CoordinatorMessage::kReleaseReplica: {
      const v1::ReleaseReplica& release = in.release_replica();
      auto it = hosted_.find({release.job_id(), release.replica()});
      if (it == hosted_.end() || it->second.epoch != release.epoch()) {
        return {};
      }
      const Hosted replica = it->second;
      hosted_.erase(it);
      if (!release.want_state()) return {};
      v1::ReplicaStateReport& report = *reply.mutable_replica_state();
      report.set_job_id(release.job_id());
      report.set_replica(release.replica());
      report.set_epoch(release.epoch());
      report.set_rung(replica.rung);
      report.set_state(absl::StrCat("state of ", release.job_id(), "/",
                                    release.replica(), " after round ",
                                    replica.last_round));
      return {reply};
    }
    case v1::CoordinatorMessage::kUnloadJob: {
      const std::string& job = in.unload_job().job_id();
      jobs_.erase(job);
      for (auto it = hosted_.begin(); it != hosted_.end();) {
        it = it->first.first == job ? hosted_.erase(it) : std::next(it);
      }
      return {};
    }
    default:
      return {};
  }
}

std::set<std::pair<std::string, int>> FakeWorker::hosted() const {
  absl::MutexLock lock(&mu_);
  std::set<std::pair<std::string, int>> replicas;
  for (const auto& [replica, state] : hosted_) replicas.insert(replica);
  return replicas;
}

int FakeWorker::segments_run() const {
  absl::MutexLock lock(&mu_);
  return segments_run_;
}

std::vector<v1::CoordinatorMessage> FakeWorker::received() const {
  absl::MutexLock lock(&mu_);
  return received_;
}

int FakeWorker::bad_orders() const {
  absl::MutexLock lock(&mu_);
  return bad_orders_;
}

}  // namespace replex::coordinator
