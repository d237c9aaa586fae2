#include "lib/runner/thread_pool.h"

#include <algorithm>

namespace replex::runner {

ThreadPool::ThreadPool(int threads) {
  for (int t = 0; t < std::max(1, threads); ++t) {
    threads_.emplace_back([this] { Loop(); });
  }
}

ThreadPool::~ThreadPool() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  for (std::thread& thread : threads_) thread.join();
}

void ThreadPool::ParallelFor(int n, const std::function<void(int)>& task) {
  absl::MutexLock lock(&mu_);
  task_ = &task;
  next_ = 0;
  end_ = n;
  unfinished_ = n;
  mu_.Await(absl::Condition(
      +[](int* unfinished) { return *unfinished == 0; }, &unfinished_));
  task_ = nullptr;
}

void ThreadPool::Loop() {
  for (;;) {
    int index;
    const std::function<void(int)>* task;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](ThreadPool* pool) ABSL_EXCLUSIVE_LOCKS_REQUIRED(pool->mu_) {
            return pool->stop_ || pool->next_ < pool->end_;
          },
          this));
      if (stop_) return;
      index = next_++;
      task = task_;
    }
    (*task)(index);
    absl::MutexLock lock(&mu_);
    --unfinished_;
  }
}

}  // namespace replex::runner
