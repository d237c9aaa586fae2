#include "replica-worker/executor.h"

#include <algorithm>
#include <utility>

namespace replex::worker {

SlotPool::SlotPool(int slots) {
  for (int i = 0; i < std::max(1, slots); ++i) {
    threads_.emplace_back([this] { Loop(); });
  }
}

SlotPool::~SlotPool() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  for (std::thread& thread : threads_) thread.join();
}

void SlotPool::Schedule(std::function<void()> task) {
  absl::MutexLock lock(&mu_);
  queue_.push_back(std::move(task));
}

void SlotPool::Loop() {
  while (true) {
    std::function<void()> task;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(this, &SlotPool::HasWorkOrStop));
      if (stop_) return;
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();
  }
}

}  // namespace replex::worker
