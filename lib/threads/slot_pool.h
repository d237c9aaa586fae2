// The threads that create and drive OpenMM Contexts, in the worker and in
// embedded mode alike. The worker's replica host hands every Context
// creation, segment and state save to an Executor, so the gRPC reader thread
// only moves messages and tests can run the work step by step; embedded mode
// runs each batch of replicas through ParallelFor on the same pool, so both
// keep a replica on one thread.
#pragma once

#include <sched.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace replex::threads {

// Runs tasks on threads of its own. Implementations are thread-safe.
class Executor {
 public:
  virtual ~Executor() = default;
  // Runs `task` later, never inline; tasks may run concurrently. Tasks with
  // the same `affinity` (a replica's) prefer the same thread. Thread-safe.
  virtual void Schedule(uint64_t affinity, std::function<void()> task) = 0;
};

// `slots` threads (a worker's slots, embedded mode's threads). A task joins the
// queue of slot affinity % slots; a slot runs its own queue, oldest first.
// Unpinned, a slot whose queue is empty takes the oldest task of the fullest
// other queue, so the load stays balanced while a replica keeps running on
// one slot thread; pinned, it waits for its own (see the constructor).
// Why: on the CPU platform an OpenMM Context hands every force evaluation to
// its own pool thread and back. Driven by the same slot thread round after
// round, the pair stays on one core; driven by whichever slot was free, the
// hand-offs crossed cores, and on a 2-core machine two slots ran slower
// than one (docs/benchmarks.md). Thread-safe. The destructor lets running
// tasks finish and discards queued ones (their owner is going away).
class SlotPool : public Executor {
 public:
  // With `pin`, slot s runs on a fixed, disjoint share of the CPUs the
  // process may use (CPUs/slots of them, the Threads a CPU Context gets by
  // default), and runs only tasks of affinity s (mod slots). OpenMM's pool
  // threads inherit the share of the task that creates their Context, so a
  // replica computes on its slot's CPUs whichever thread drives it: a slot
  // that took another's task would only compete for that slot's CPUs while
  // its own sat idle (with one CPU slowed, asynchronous exchange reached
  // 0.87 of the capacity when pinned slots took each other's work, 0.95
  // without; docs/benchmarks.md). So callers spread affinities evenly
  // (embedded mode: replica i on slot i % slots; the worker: each new
  // replica on the slot hosting fewest). Only for a machine the process has
  // to itself.
  explicit SlotPool(int slots, bool pin = false);
  // Whether slots really are pinned (`pin`, and at least a CPU per slot).
  bool pinned() const { return !shares_.empty(); }
  ~SlotPool() override;
  SlotPool(const SlotPool&) = delete;
  SlotPool& operator=(const SlotPool&) = delete;

  void Schedule(uint64_t affinity, std::function<void()> task) override;

 private:
  void Loop(size_t slot);
  bool HasWorkOrStop() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stop_ ||
           std::any_of(queues_.begin(), queues_.end(),
                       [](const auto& queue) { return !queue.empty(); });
  }

  absl::Mutex mu_;
  std::vector<std::deque<std::function<void()>>> queues_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  // Slot s's CPUs, with `pin`; empty without it or with fewer CPUs than
  // slots.
  const std::vector<cpu_set_t> shares_;
  std::vector<std::thread> threads_;
};

// Runs task(i) for every i in [0, n) on `executor`, task i with affinity
// affinity_of(i), and returns when all have finished: a batch of replicas
// and the wait for it. Blocks until `executor` has run every task, so not for
// an executor that runs tasks only when told, nor one being destroyed. Tasks
// run concurrently: task(i) touches only what belongs to i. Thread-safe.
void ParallelFor(Executor& executor, int n,
                 const std::function<uint64_t(int)>& affinity_of,
                 const std::function<void(int)>& task);

}  // namespace replex::threads
