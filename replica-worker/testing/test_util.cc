#include "replica-worker/testing/test_util.h"

#include <utility>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "lib/spec/spec.h"
#include "lib/wire/wire.h"

namespace replex::worker::testing {
namespace {

// A guard against hanging forever on a broken worker, not a timing
// assumption: every wait ends as soon as its condition holds.
constexpr absl::Duration kGuard = absl::Minutes(1);

}  // namespace

// The worker's end of a FakeStreamPeer (its friend, hence not in the
// anonymous namespace).
class FakeStream : public CoordinatorStream {
 public:
  explicit FakeStream(std::shared_ptr<FakeStreamPeer> peer)
      : peer_(std::move(peer)) {}

  bool Send(const v1::WorkerMessage& message, bool more_follow) override {
    absl::MutexLock lock(&peer_->mu_);
    FakeStreamPeer& peer = *peer_;
    // A held transport takes nothing until released or broken.
    auto writable = [&peer]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(peer.mu_) {
      return !peer.holding_sends_ || peer.ended_ || peer.cancelled_;
    };
    ++peer.held_sends_;
    peer.mu_.Await(absl::Condition(&writable));
    --peer.held_sends_;
    if (peer.ended_ || peer.cancelled_ || peer.send_closed_) return false;
    peer.sent_.push_back(message);
    peer.more_follow_.push_back(more_follow);
    return true;
  }

  bool Receive(v1::CoordinatorMessage* message) override {
    absl::MutexLock lock(&peer_->mu_);
    FakeStreamPeer& peer = *peer_;
    auto ready = [&peer]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(peer.mu_) {
      return !peer.inbound_.empty() || peer.ended_ || peer.cancelled_;
    };
    peer.mu_.Await(absl::Condition(&ready));
    if (peer.inbound_.empty() || peer.cancelled_) return false;
    *message = std::move(peer.inbound_.front());
    peer.inbound_.pop_front();
    return true;
  }

  void CloseSend() override {
    absl::MutexLock lock(&peer_->mu_);
    peer_->send_closed_ = true;
  }

  void Cancel() override {
    absl::MutexLock lock(&peer_->mu_);
    if (!peer_->ended_) peer_->cancelled_ = true;
  }

  absl::Status Finish() override {
    absl::MutexLock lock(&peer_->mu_);
    return peer_->cancelled_ ? absl::CancelledError("cancelled by the worker")
                             : peer_->end_status_;
  }

 private:
  std::shared_ptr<FakeStreamPeer> peer_;
};

void ManualExecutor::Schedule(uint64_t affinity, std::function<void()> task) {
  absl::MutexLock lock(&mu_);
  queue_.push_back(std::move(task));
  affinities_.push_back(affinity);
}

std::vector<uint64_t> ManualExecutor::affinities() const {
  absl::MutexLock lock(&mu_);
  return affinities_;
}

int ManualExecutor::RunAll() {
  int ran = 0;
  while (RunOne()) ++ran;
  return ran;
}

bool ManualExecutor::RunOne() {
  std::function<void()> task;
  {
    absl::MutexLock lock(&mu_);
    if (queue_.empty()) return false;
    task = std::move(queue_.front());
    queue_.pop_front();
  }
  task();
  return true;
}

void RecordingOutput::set_on_send(
    std::function<void(const v1::WorkerMessage&)> on_send) {
  absl::MutexLock lock(&mu_);
  on_send_ = std::move(on_send);
}

void RecordingOutput::Send(const v1::WorkerMessage& message) {
  std::function<void(const v1::WorkerMessage&)> on_send;
  {
    absl::MutexLock lock(&mu_);
    messages_.push_back(message);
    on_send = on_send_;
  }
  if (on_send) on_send(message);
}

void RecordingOutput::OnIdle() {
  absl::MutexLock lock(&mu_);
  ++idle_calls_;
}

std::vector<v1::WorkerMessage> RecordingOutput::messages() const {
  absl::MutexLock lock(&mu_);
  return messages_;
}

int RecordingOutput::idle_calls() const {
  absl::MutexLock lock(&mu_);
  return idle_calls_;
}

void FakeStreamPeer::Push(const v1::CoordinatorMessage& message) {
  absl::MutexLock lock(&mu_);
  inbound_.push_back(message);
}

void FakeStreamPeer::End(absl::Status status) {
  absl::MutexLock lock(&mu_);
  ended_ = true;
  end_status_ = std::move(status);
}

bool FakeStreamPeer::AwaitSent(const Predicate& predicate) {
  absl::MutexLock lock(&mu_);
  auto holds = [this, &predicate]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return predicate(sent_);
  };
  return mu_.AwaitWithTimeout(absl::Condition(&holds), kGuard);
}

bool FakeStreamPeer::AwaitClosed() {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(this, &FakeStreamPeer::Closed),
                              kGuard);
}

void FakeStreamPeer::HoldSends(bool hold) {
  absl::MutexLock lock(&mu_);
  holding_sends_ = hold;
}

bool FakeStreamPeer::AwaitHeldSend() {
  absl::MutexLock lock(&mu_);
  auto held = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return held_sends_ > 0;
  };
  return mu_.AwaitWithTimeout(absl::Condition(&held), kGuard);
}

std::vector<bool> FakeStreamPeer::more_follow() const {
  absl::MutexLock lock(&mu_);
  return more_follow_;
}

std::vector<v1::WorkerMessage> FakeStreamPeer::sent() const {
  absl::MutexLock lock(&mu_);
  return sent_;
}

bool FakeStreamPeer::send_closed() const {
  absl::MutexLock lock(&mu_);
  return send_closed_;
}

bool FakeStreamPeer::cancelled() const {
  absl::MutexLock lock(&mu_);
  return cancelled_;
}

std::unique_ptr<CoordinatorStream> FakeStreamPeer::Stream() {
  return std::make_unique<FakeStream>(shared_from_this());
}

absl::StatusOr<std::unique_ptr<CoordinatorStream>>
FakeCoordinatorClient::Connect(absl::Duration) {
  absl::MutexLock lock(&mu_);
  ++attempts_;
  if (failing_connects_ > 0) {
    --failing_connects_;
    return absl::UnavailableError("fake coordinator refuses");
  }
  streams_.push_back(std::make_shared<FakeStreamPeer>());
  return streams_.back()->Stream();
}

std::shared_ptr<FakeStreamPeer> FakeCoordinatorClient::AwaitStream(int index) {
  absl::MutexLock lock(&mu_);
  auto opened = [this, index]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return static_cast<int>(streams_.size()) > index;
  };
  if (!mu_.AwaitWithTimeout(absl::Condition(&opened), kGuard)) return nullptr;
  return streams_[index];
}

std::shared_ptr<FakeStreamPeer> FakeCoordinatorClient::latest() const {
  absl::MutexLock lock(&mu_);
  return streams_.empty() ? nullptr : streams_.back();
}

void FakeCoordinatorClient::AwaitAttempts(int n) {
  absl::MutexLock lock(&mu_);
  auto reached = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return attempts_ >= n;
  };
  mu_.AwaitWithTimeout(absl::Condition(&reached), kGuard);
}

DirectRun::DirectRun(const v1::JobSpec& spec)
    : options_(runner::EngineOptionsFor(spec, 1)) {
  auto model =
      engine::Model::Load(spec.system_xml(), spec.state_xml(), spec.pdb());
  EXPECT_TRUE(model.ok()) << model.status();
  if (model.ok()) model_ = *model;
  auto ladder = spec::BuildLadder(spec.ladder());
  EXPECT_TRUE(ladder.ok()) << ladder.status();
  if (ladder.ok()) ladder_ = std::make_unique<exchange::Ladder>(*ladder);
}

std::unique_ptr<engine::Replica> DirectRun::Create(int rung, uint64_t seed) {
  if (ladder_ == nullptr) return nullptr;
  auto replica =
      engine::Replica::Create(model_, options_, *ladder_, rung, seed);
  EXPECT_TRUE(replica.ok()) << replica.status();
  return replica.ok() ? *std::move(replica) : nullptr;
}

runner::SegmentResult DirectRun::Execute(engine::Replica& replica,
                                         const v1::SegmentOrder& order) {
  auto result = runner::ExecuteOrder(replica, wire::FromProto(order));
  EXPECT_TRUE(result.ok()) << result.status();
  return result.ok() ? *result : runner::SegmentResult();
}

runner::SegmentResult DirectRun::FirstSegment(int rung, uint64_t seed,
                                              const v1::SegmentOrder& order) {
  std::unique_ptr<engine::Replica> replica = Create(rung, seed);
  return replica != nullptr ? Execute(*replica, order)
                            : runner::SegmentResult();
}

std::string DirectRun::State(engine::Replica& replica) {
  auto state = replica.Save();
  EXPECT_TRUE(state.ok()) << state.status();
  return state.ok() ? state->Serialize() : "";
}

v1::JobSpec ExampleSpec(const std::string& relative_path) {
  absl::StatusOr<v1::JobSpec> spec =
      spec::LoadYamlFile(std::string(REPLEX_SOURCE_DIR) + "/" + relative_path);
  EXPECT_TRUE(spec.ok()) << spec.status();
  return spec.ok() ? *spec : v1::JobSpec();
}

v1::LoadJob MakeLoadJob(const std::string& job_id, const v1::JobSpec& spec) {
  v1::LoadJob message;
  message.set_job_id(job_id);
  *message.mutable_spec() = spec;
  return message;
}

v1::LoadReplica MakeLoadReplica(const std::string& job_id, int replica,
                                int64_t epoch, int rung, uint64_t velocity_seed,
                                const std::string& state) {
  v1::LoadReplica message;
  message.set_job_id(job_id);
  message.set_replica(replica);
  message.set_epoch(epoch);
  message.set_rung(rung);
  message.set_velocity_seed(velocity_seed);
  message.set_state(state);
  return message;
}

v1::SegmentOrder MakeOrder(const std::string& job_id, int replica,
                           int64_t round, int64_t epoch, int rung, int steps,
                           uint64_t segment_seed,
                           const std::vector<int>& evaluate_rungs) {
  v1::SegmentOrder message;
  message.set_job_id(job_id);
  message.set_replica(replica);
  message.set_round(round);
  message.set_epoch(epoch);
  message.set_rung(rung);
  message.set_steps(steps);
  message.set_segment_seed(segment_seed);
  message.mutable_evaluate_rungs()->Add(evaluate_rungs.begin(),
                                        evaluate_rungs.end());
  return message;
}

v1::ReleaseReplica MakeRelease(const std::string& job_id, int replica,
                               int64_t epoch, bool want_state) {
  v1::ReleaseReplica message;
  message.set_job_id(job_id);
  message.set_replica(replica);
  message.set_epoch(epoch);
  message.set_want_state(want_state);
  return message;
}

v1::UnloadJob MakeUnload(const std::string& job_id) {
  v1::UnloadJob message;
  message.set_job_id(job_id);
  return message;
}

v1::CoordinatorMessage Wrap(const google::protobuf::Message& message) {
  // The oneof has one field per message type; an order travels in a
  // SegmentOrders of its own.
  v1::CoordinatorMessage wrapped;
  const google::protobuf::Descriptor* type = message.GetDescriptor();
  if (type == v1::SegmentOrder::descriptor()) {
    wrapped.mutable_segment_orders()->add_orders()->CopyFrom(message);
    return wrapped;
  }
  const google::protobuf::Descriptor* wrapper = wrapped.GetDescriptor();
  for (int i = 0; i < wrapper->field_count(); ++i) {
    if (wrapper->field(i)->message_type() == type) {
      wrapped.GetReflection()
          ->MutableMessage(&wrapped, wrapper->field(i))
          ->CopyFrom(message);
      return wrapped;
    }
  }
  ADD_FAILURE() << type->full_name() << " is not a CoordinatorMessage";
  return wrapped;
}

v1::CoordinatorMessage Welcome(int64_t heartbeat_interval_ms) {
  v1::CoordinatorMessage wrapped;
  wrapped.mutable_welcome()->set_worker_id("w-1");
  wrapped.mutable_welcome()->set_heartbeat_interval_ms(heartbeat_interval_ms);
  return wrapped;
}

int Count(const std::vector<v1::WorkerMessage>& messages,
          v1::WorkerMessage::MessageCase kind) {
  int n = 0;
  for (const v1::WorkerMessage& message : messages) {
    n += message.message_case() == kind;
  }
  return n;
}

}  // namespace replex::worker::testing
