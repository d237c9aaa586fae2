// Where a worker runs engine work. The replica host hands every Context
// creation, segment and state save to an Executor, so the gRPC reader thread
// only moves messages and tests can run the work step by step.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace replex::worker {

class Executor {
 public:
  virtual ~Executor() = default;
  // Runs `task` later, never inline; tasks may run concurrently. Tasks with
  // the same `affinity` (a replica's) prefer the same thread. Thread-safe.
  virtual void Schedule(uint64_t affinity, std::function<void()> task) = 0;
};

// `slots` threads, a worker's slots. A task joins the queue of slot
// affinity % slots; a slot runs its own queue first, oldest first, and when
// it is empty takes the oldest task of the fullest other queue, so the load
// stays balanced while a replica keeps running on one slot thread. Why: on
// the CPU platform an OpenMM Context hands every force evaluation to its own
// pool thread and back. Driven by the same slot thread round after round,
// the pair stays on one core; driven by whichever slot was free, the
// hand-offs crossed cores, and on a 2-core machine two slots ran slower
// than one (docs/benchmarks.md). Thread-safe. The destructor lets running
// tasks finish and discards queued ones (their owner is going away).
class SlotPool : public Executor {
 public:
  // With `pin`, slot s runs on a fixed, disjoint share of the CPUs the
  // process may use (CPUs/slots of them, the Threads a CPU Context gets by
  // default); OpenMM's pool threads, made on the slot that creates their
  // Context, inherit it. Only for a machine the worker has to itself.
  explicit SlotPool(int slots, bool pin = false);
  ~SlotPool() override;
  SlotPool(const SlotPool&) = delete;
  SlotPool& operator=(const SlotPool&) = delete;

  void Schedule(uint64_t affinity, std::function<void()> task) override;

 private:
  void Loop(size_t slot, bool pin);
  bool HasWorkOrStop() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stop_ ||
           std::any_of(queues_.begin(), queues_.end(),
                       [](const auto& queue) { return !queue.empty(); });
  }

  absl::Mutex mu_;
  std::vector<std::deque<std::function<void()>>> queues_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace replex::worker
