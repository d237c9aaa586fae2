#include "replica-worker/executor.h"

#include <algorithm>
#include <utility>

namespace replex::worker {

SlotPool::SlotPool(int slots) : queues_(std::max(1, slots)) {
  for (size_t slot = 0; slot < queues_.size(); ++slot) {
    threads_.emplace_back([this, slot] { Loop(slot); });
  }
}

SlotPool::~SlotPool() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  for (std::thread& thread : threads_) thread.join();
}

void SlotPool::Schedule(uint64_t affinity, std::function<void()> task) {
  absl::MutexLock lock(&mu_);
  queues_[affinity % queues_.size()].push_back(std::move(task));
  ++queued_;
}

void SlotPool::Loop(size_t slot) {
  while (true) {
    std::function<void()> task;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(this, &SlotPool::HasWorkOrStop));
      if (stop_) return;
      auto from = queues_.begin() + slot;
      if (from->empty()) {
        from = std::max_element(
            queues_.begin(), queues_.end(),
            [](const auto& a, const auto& b) { return a.size() < b.size(); });
      }
      task = std::move(from->front());
      from->pop_front();
      --queued_;
    }
    task();
  }
}

}  // namespace replex::worker
