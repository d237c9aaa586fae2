#include "lib/threads/slot_pool.h"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <utility>

#include "absl/synchronization/blocking_counter.h"

namespace replex::threads {

namespace {

// Restricts the calling thread to share `slot` of `slots` of the CPUs it may
// use now; leaves it alone when there are fewer CPUs than slots.
void PinToShare(size_t slot, size_t slots) {
  cpu_set_t allowed;
  if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0) return;
  std::vector<int> cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &allowed)) cpus.push_back(cpu);
  }
  const size_t share = cpus.size() / slots;
  if (share == 0) return;
  cpu_set_t mine;
  CPU_ZERO(&mine);
  for (size_t i = slot * share; i < (slot + 1) * share; ++i) {
    CPU_SET(cpus[i], &mine);
  }
  pthread_setaffinity_np(pthread_self(), sizeof(mine), &mine);
}

}  // namespace

SlotPool::SlotPool(int slots, bool pin) : queues_(std::max(1, slots)) {
  for (size_t slot = 0; slot < queues_.size(); ++slot) {
    threads_.emplace_back([this, slot, pin] { Loop(slot, pin); });
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
}

void SlotPool::Loop(size_t slot, bool pin) {
  if (pin) PinToShare(slot, queues_.size());
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
    }
    task();
  }
}

void ParallelFor(Executor& executor, int n,
                 const std::function<uint64_t(int)>& affinity_of,
                 const std::function<void(int)>& task) {
  absl::BlockingCounter done(n);
  for (int i = 0; i < n; ++i) {
    executor.Schedule(affinity_of(i), [&task, &done, i] {
      task(i);
      done.DecrementCount();
    });
  }
  done.Wait();
}

}  // namespace replex::threads
