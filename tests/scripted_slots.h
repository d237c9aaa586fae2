// A runner::SegmentStream whose segments finish in a scripted order, for
// asynchronous exchange without a wall clock: the exchange-only model of
// lib/runner/asynchronous_test.cc and the engine's sampling tests, which a
// real thread pool would make irreproducible (its completion order varies).
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "lib/exchange/seeds.h"
#include "lib/runner/asynchronous.h"
#include "lib/runner/driver.h"
#include "lib/runner/runner.h"

namespace replex::testing {

// Slots that each take `seconds[s]` simulated seconds per segment. Bound:
// replica r runs on slot r % slots, in the order started (a cluster's
// replicas stay on their worker; replex run --pin_threads); otherwise a free
// slot takes the oldest queued segment (unpinned threads). Next returns the
// segment that ends first (on a tie, the lowest slot's) with what `run`
// makes of it, computed then on the calling thread. Timing depends on the
// slot only, as exact asynchronous sampling needs (docs/exchange.md).
class ScriptedSlots : public runner::SegmentStream {
 public:
  using Run = std::function<absl::StatusOr<runner::SegmentResult>(
      const runner::SegmentOrder&)>;

  using SaveStates = std::function<absl::StatusOr<std::vector<std::string>>()>;

  // `states` answers States (none: FAILED_PRECONDITION).
  ScriptedSlots(std::vector<double> seconds, bool bound, Run run,
                SaveStates states = nullptr)
      : seconds_(std::move(seconds)),
        bound_(bound),
        run_(std::move(run)),
        states_(std::move(states)),
        queues_(bound_ ? seconds_.size() : 1),
        running_(seconds_.size()),
        ends_(seconds_.size()),
        outstanding_(seconds_.size()) {}

  bool SlotFree() const override {
    if (!bound_) {
      int outstanding = 0;
      for (int count : outstanding_) outstanding += count;
      return outstanding < static_cast<int>(seconds_.size());
    }
    for (int count : outstanding_) {
      if (count == 0) return true;
    }
    return false;
  }

  void Start(const runner::SegmentOrder& order) override {
    queues_[bound_ ? Slot(order) : 0].push_back(order);
    ++outstanding_[Slot(order)];
    Dispatch();
  }

  Finished Next() override {
    int slot = -1;
    for (size_t s = 0; s < seconds_.size(); ++s) {
      if (!running_[s].empty() && (slot < 0 || ends_[s] < ends_[slot])) {
        slot = static_cast<int>(s);
      }
    }
    now_ = ends_[slot];
    runner::SegmentOrder order = running_[slot].front();
    running_[slot].clear();
    --outstanding_[Slot(order)];
    Dispatch();
    absl::StatusOr<runner::SegmentResult> result = run_(order);
    return {std::move(order), std::move(result)};
  }

  absl::StatusOr<std::vector<std::string>> States() override {
    for (size_t s = 0; s < seconds_.size(); ++s) {
      if (!running_[s].empty() || !queues_[bound_ ? s : 0].empty()) {
        return absl::FailedPreconditionError(
            "States was called while a segment runs");
      }
    }
    if (!states_) {
      return absl::FailedPreconditionError("these slots keep no states");
    }
    return states_();
  }

  double now() const { return now_; }

 private:
  // Where a segment is counted: its bound slot, or (unbound) slot 0, which
  // then counts them all.
  int Slot(const runner::SegmentOrder& order) const {
    return bound_ ? order.replica % static_cast<int>(seconds_.size()) : 0;
  }
  void Dispatch() {
    for (size_t s = 0; s < seconds_.size(); ++s) {
      std::deque<runner::SegmentOrder>& queue = queues_[bound_ ? s : 0];
      if (!running_[s].empty() || queue.empty()) continue;
      running_[s].push_back(queue.front());
      queue.pop_front();
      ends_[s] = now_ + seconds_[s];
    }
  }

  const std::vector<double> seconds_;
  const bool bound_;
  const Run run_;
  const SaveStates states_;
  std::vector<std::deque<runner::SegmentOrder>> queues_;
  std::vector<std::vector<runner::SegmentOrder>> running_;  // one at most
  std::vector<double> ends_;
  std::vector<int> outstanding_;
  double now_ = 0;
};

// Asynchronous exchange of `spec` (valid, exchange.mode: asynchronous)
// through the engine in a reproducible completion order: replica i starts at
// rung i as in RunJob, the replicas bound to two slots, slot 1 half again as
// slow as slot 0, every segment run on this thread when its slot finishes
// it. `options`' callbacks are called as RunJob calls them.
inline absl::StatusOr<runner::RunResult> RunScriptedAsynchronous(
    const v1::JobSpec& spec, const runner::RunOptions& options) {
  absl::StatusOr<runner::RoundDriver> driver =
      runner::RoundDriver::Create(spec);
  if (!driver.ok()) return driver.status();
  auto model = runner::LoadModel(spec);
  if (!model.ok()) return model.status();
  const engine::EngineOptions engine = runner::EngineOptionsFor(spec, 1);
  std::vector<std::unique_ptr<engine::Replica>> replicas;
  for (int i = 0; i < driver->ladder().size(); ++i) {
    auto replica =
        runner::StartReplica(*model, engine, driver->ladder(), i, i, 0,
                             exchange::VelocitySeed(spec.seed(), i), "", false);
    if (!replica.ok()) return replica.status();
    replicas.push_back(*std::move(replica));
  }
  ScriptedSlots slots(
      {1.0, 1.5}, /*bound=*/true,
      [&replicas](const runner::SegmentOrder& order) {
        return runner::ExecuteOrder(*replicas[order.replica], order);
      },
      [&replicas]() -> absl::StatusOr<std::vector<std::string>> {
        std::vector<std::string> states;
        for (const auto& replica : replicas) {
          absl::StatusOr<engine::PortableState> state = replica->Save();
          if (!state.ok()) return state.status();
          states.push_back(state->Serialize());
        }
        return states;
      });
  return runner::RunAsynchronousOn(spec, options, *driver, slots, absl::Now());
}

}  // namespace replex::testing
