#include "lib/runner/local_executor.h"

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "lib/exchange/seeds.h"

namespace replex::runner {
namespace {

// The first failure, prefixed with where it happened.
absl::Status FirstError(const std::vector<absl::Status>& errors,
                        const std::vector<SegmentOrder>* orders) {
  for (size_t i = 0; i < errors.size(); ++i) {
    if (errors[i].ok()) continue;
    if (orders == nullptr) return errors[i];
    const SegmentOrder& order = (*orders)[i];
    return absl::Status(
        errors[i].code(),
        absl::StrCat("replica ", order.replica, " (rung ", order.rung,
                     ") in round ", order.round, ": ", errors[i].message()));
  }
  return absl::OkStatus();
}

// The affinity of every task on replica `replica`: its Context's creation
// and all its segments prefer one thread.
uint64_t ReplicaAffinity(int replica) { return replica; }

}  // namespace

absl::StatusOr<std::unique_ptr<LocalExecutor>> LocalExecutor::Create(
    const v1::JobSpec& spec, const exchange::Ladder& ladder, int threads,
    bool pin, const std::vector<ReplicaStart>& starts) {
  absl::StatusOr<std::shared_ptr<const engine::Model>> model = LoadModel(spec);
  if (!model.ok()) return model.status();
  const int n = ladder.size();
  if (!starts.empty() && static_cast<int>(starts.size()) != n) {
    return absl::InternalError(
        absl::StrCat(starts.size(), " starts for ", n, " replicas"));
  }
  threads = std::max(1, std::min(threads, n));
  std::unique_ptr<LocalExecutor> executor(new LocalExecutor(threads, pin));
  const engine::EngineOptions options = EngineOptionsFor(spec, threads);
  executor->replicas_.resize(n);
  std::vector<absl::Status> errors(n);
  // On real systems creating a Context costs as much as a segment. With
  // `pin`, a CPU Context's own threads inherit the pinning of the thread
  // that creates it: the thread that will drive it.
  threads::ParallelFor(executor->pool_, n, ReplicaAffinity, [&](int i) {
    ReplicaStart start;
    start.rung = i;
    if (!starts.empty()) start = starts[i];
    absl::StatusOr<std::unique_ptr<engine::Replica>> replica = StartReplica(
        *model, options, ladder, i, start.rung, start.temperature_k,
        start.velocity_seed.value_or(exchange::VelocitySeed(spec.seed(), i)),
        start.state, start.redraw_velocities);
    if (replica.ok()) {
      executor->replicas_[i] = *std::move(replica);
    } else {
      errors[i] = replica.status();
    }
  });
  if (absl::Status error = FirstError(errors, nullptr); !error.ok()) {
    return error;
  }
  return executor;
}

absl::StatusOr<std::vector<SegmentResult>> LocalExecutor::RunSegments(
    const std::vector<SegmentOrder>& orders) {
  return RunSegmentsOverlapping(orders, [] {});
}

absl::StatusOr<std::vector<SegmentResult>>
LocalExecutor::RunSegmentsOverlapping(const std::vector<SegmentOrder>& orders,
                                      const std::function<void()>& meanwhile) {
  std::vector<int> index_of(replicas_.size(), -1);
  for (size_t i = 0; i < orders.size(); ++i) {
    index_of[orders[i].replica] = static_cast<int>(i);
    Start(orders[i]);
  }
  meanwhile();
  std::vector<SegmentResult> results(orders.size());
  std::vector<absl::Status> errors(orders.size());
  for (size_t k = 0; k < orders.size(); ++k) {
    Finished done = Next();
    const int i = index_of[done.order.replica];
    if (done.result.ok()) {
      results[i] = *std::move(done.result);
    } else {
      errors[i] = done.result.status();
    }
  }
  if (absl::Status error = FirstError(errors, &orders); !error.ok()) {
    return error;
  }
  return results;
}

bool LocalExecutor::SlotFree() const {
  if (!pool_.pinned()) {
    return std::accumulate(outstanding_.begin(), outstanding_.end(), 0) <
           threads_;
  }
  return std::find(outstanding_.begin(), outstanding_.end(), 0) !=
         outstanding_.end();
}

void LocalExecutor::Start(const SegmentOrder& order) {
  ++outstanding_[ReplicaAffinity(order.replica) % threads_];
  {
    absl::MutexLock lock(&mu_);
    ++running_;
  }
  pool_.Schedule(ReplicaAffinity(order.replica), [this, order] {
    absl::StatusOr<SegmentResult> result =
        ExecuteOrder(*replicas_[order.replica], order);
    absl::MutexLock lock(&mu_);
    --running_;
    finished_.push_back({order, std::move(result)});
  });
}

SegmentStream::Finished LocalExecutor::Next() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](std::deque<Finished>* finished) { return !finished->empty(); },
      &finished_));
  Finished done = std::move(finished_.front());
  finished_.pop_front();
  --outstanding_[ReplicaAffinity(done.order.replica) % threads_];
  return done;
}

absl::StatusOr<std::vector<std::string>> LocalExecutor::States() {
  const int n = static_cast<int>(replicas_.size());
  std::vector<std::string> states(n);
  std::vector<absl::Status> errors(n);
  threads::ParallelFor(pool_, n, ReplicaAffinity, [&](int i) {
    absl::StatusOr<engine::PortableState> state = replicas_[i]->Save();
    if (state.ok()) {
      states[i] = state->Serialize();
    } else {
      errors[i] = absl::Status(
          state.status().code(),
          absl::StrCat("replica ", i, "'s state: ", state.status().message()));
    }
  });
  if (absl::Status error = FirstError(errors, nullptr); !error.ok()) {
    return error;
  }
  return states;
}

LocalExecutor::~LocalExecutor() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](int* running) { return *running == 0; }, &running_));
}

}  // namespace replex::runner
