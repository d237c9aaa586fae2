// Where a worker runs engine work. The replica host hands every Context
// creation, segment and state save to an Executor, so the gRPC reader thread
// only moves messages and tests can run the work step by step.
#pragma once

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
  // Runs `task` later, never inline; tasks may run concurrently. Thread-safe.
  virtual void Schedule(std::function<void()> task) = 0;
};

// `slots` threads taking tasks first come, first served: a worker's slots.
// Thread-safe. The destructor lets running tasks finish and discards queued
// ones (their owner is going away).
class SlotPool : public Executor {
 public:
  explicit SlotPool(int slots);
  ~SlotPool() override;
  SlotPool(const SlotPool&) = delete;
  SlotPool& operator=(const SlotPool&) = delete;

  void Schedule(std::function<void()> task) override;

 private:
  void Loop();
  bool HasWorkOrStop() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stop_ || !queue_.empty();
  }

  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace replex::worker
