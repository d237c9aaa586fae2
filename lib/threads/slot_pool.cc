#include "lib/threads/slot_pool.h"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <utility>

#include "absl/synchronization/blocking_counter.h"

namespace replex::threads {

namespace {

// The CPUs this thread may use now, in `n` disjoint shares of CPUs/n each;
// none when there are fewer CPUs than shares.
std::vector<cpu_set_t> SplitCpus(size_t n) {
  cpu_set_t allowed;
  if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0) return {};
  std::vector<int> cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &allowed)) cpus.push_back(cpu);
  }
  const size_t size = cpus.size() / n;
  if (size == 0) return {};
  std::vector<cpu_set_t> shares(n);
  for (size_t share = 0; share < n; ++share) {
    CPU_ZERO(&shares[share]);
    for (size_t i = share * size; i < (share + 1) * size; ++i) {
      CPU_SET(cpus[i], &shares[share]);
    }
  }
  return shares;
}

void PinTo(const cpu_set_t& cpus) {
  pthread_setaffinity_np(pthread_self(), sizeof(cpus), &cpus);
}

}  // namespace

SlotPool::SlotPool(int slots, bool pin)
    : queues_(std::max(1, slots)),
      shares_(pin ? SplitCpus(queues_.size()) : std::vector<cpu_set_t>()) {
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
}

void SlotPool::Loop(size_t slot) {
  if (!shares_.empty()) PinTo(shares_[slot]);
  while (true) {
    std::function<void()> task;
    {
      absl::MutexLock lock(&mu_);
      const auto own_work_or_stop = [this, slot] {
        mu_.AssertHeld();  // Await calls it with mu_ held
        return stop_ || !queues_[slot].empty();
      };
      if (pinned()) {
        mu_.Await(absl::Condition(&own_work_or_stop));
      } else {
        mu_.Await(absl::Condition(this, &SlotPool::HasWorkOrStop));
      }
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
