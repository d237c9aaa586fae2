// A fixed pool of threads that runs one batch of independent tasks at a time.
// Embedded mode uses it to multiplex replicas over a configurable number of
// threads without creating threads every round.
#pragma once

#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace replex::runner {

// Thread-safe. ParallelFor must not be called concurrently from two threads.
class ThreadPool {
 public:
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Runs task(i) for i in [0, n) on the pool and returns when all are done.
  void ParallelFor(int n, const std::function<void(int)>& task);

 private:
  void Loop();

  absl::Mutex mu_;
  const std::function<void(int)>* task_ ABSL_GUARDED_BY(mu_) = nullptr;
  int next_ ABSL_GUARDED_BY(mu_) = 0;
  int end_ ABSL_GUARDED_BY(mu_) = 0;
  int unfinished_ ABSL_GUARDED_BY(mu_) = 0;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace replex::runner
