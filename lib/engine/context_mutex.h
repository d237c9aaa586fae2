// The lock around a replica's OpenMM Context, written as a capability so that
// clang's -Wthread-safety analysis checks every use: shared to use the
// Context, exclusive to create or destroy it. Whether it locks anything is
// decided per platform, in context_mutex.cc only.
#pragma once

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace replex::engine {

// Thread-safe. On the CPU platform it is the process-wide lock on OpenMM's
// CPU Context map; on every other platform it locks nothing. Callers lock it
// the same way on every platform, so the analysis checks them all.
class ABSL_LOCKABLE ContextMutex {
 public:
  explicit ContextMutex(absl::string_view platform);
  ContextMutex(const ContextMutex&) = delete;
  ContextMutex& operator=(const ContextMutex&) = delete;

  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION();
  void Unlock() ABSL_UNLOCK_FUNCTION();
  void ReaderLock() ABSL_SHARED_LOCK_FUNCTION();
  void ReaderUnlock() ABSL_UNLOCK_FUNCTION();
  // Whether it locks anything (the CPU platform).
  bool locks() const;
  // Called holding it shared, between steps: if a thread waits to hold it
  // exclusively (to make or destroy a Context), lets it, and every other
  // such thread, go first, and returns holding it shared again. Without
  // this, a Context made while another replica runs a segment waits for the
  // whole segment, and the thread making it idles its core.
  void LetWritersIn() ABSL_SHARED_LOCKS_REQUIRED(this);

 private:
  absl::Mutex* const mutex_;  // null where the platform needs no lock
};

// Holds a ContextMutex exclusively for a scope: to create or destroy a
// Context.
class ABSL_SCOPED_LOCKABLE ContextMutexLock {
 public:
  explicit ContextMutexLock(ContextMutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu)
      : mu_(mu) {
    mu_->Lock();
  }
  ~ContextMutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  ContextMutexLock(const ContextMutexLock&) = delete;
  ContextMutexLock& operator=(const ContextMutexLock&) = delete;

 private:
  ContextMutex* const mu_;
};

// Holds a ContextMutex shared for a scope: to use a Context.
class ABSL_SCOPED_LOCKABLE ContextReaderMutexLock {
 public:
  explicit ContextReaderMutexLock(ContextMutex* mu)
      ABSL_SHARED_LOCK_FUNCTION(mu)
      : mu_(mu) {
    mu_->ReaderLock();
  }
  ~ContextReaderMutexLock() ABSL_UNLOCK_FUNCTION() { mu_->ReaderUnlock(); }
  ContextReaderMutexLock(const ContextReaderMutexLock&) = delete;
  ContextReaderMutexLock& operator=(const ContextReaderMutexLock&) = delete;

 private:
  ContextMutex* const mu_;
};

}  // namespace replex::engine
