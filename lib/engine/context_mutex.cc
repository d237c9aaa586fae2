// ContextMutex's one decision: which platforms lock, and what.
#include "lib/engine/context_mutex.h"

#include <atomic>

#include "absl/base/const_init.h"
#include "absl/synchronization/mutex.h"

namespace replex::engine {
namespace {

// OpenMM 7.7's CPU platform keeps every Context's data in one process-global,
// unsynchronised std::map (CpuPlatform::contextData): Context creation and
// destruction insert and erase, and every force evaluation looks its Context
// up (copyChargesToPosq). A Context made or destroyed while another replica
// steps can therefore corrupt the map and crash the process, so creation and
// destruction hold this mutex exclusively and every other use of a CPU Context
// holds it shared.
ABSL_CONST_INIT absl::Mutex cpu_context_map_mutex(absl::kConstInit);
// Threads waiting to hold it exclusively: readers step aside for them. It
// falls to 0 only while the mutex is held exclusively, so the Unlock that
// follows wakes the readers waiting for that.
std::atomic<int> cpu_context_map_writers_waiting{0};

bool NoWritersWaiting(std::atomic<int>* waiting) {
  return waiting->load() == 0;
}

}  // namespace

ContextMutex::ContextMutex(absl::string_view platform)
    : mutex_(platform == "CPU" ? &cpu_context_map_mutex : nullptr) {}

// The analysis cannot follow a lock taken on one platform only; callers are
// checked against the annotations on the declarations instead.
void ContextMutex::Lock() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  if (mutex_ == nullptr) return;
  cpu_context_map_writers_waiting.fetch_add(1);
  mutex_->Lock();
  cpu_context_map_writers_waiting.fetch_sub(1);
}

void ContextMutex::Unlock() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  if (mutex_ != nullptr) mutex_->Unlock();
}

void ContextMutex::ReaderLock() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  if (mutex_ != nullptr) mutex_->ReaderLock();
}

void ContextMutex::ReaderUnlock() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  if (mutex_ != nullptr) mutex_->ReaderUnlock();
}

bool ContextMutex::locks() const { return mutex_ != nullptr; }

void ContextMutex::LetWritersIn() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  if (mutex_ == nullptr || cpu_context_map_writers_waiting.load() == 0) return;
  mutex_->ReaderUnlock();
  // Not ReaderLock: with the writer woken but not yet running, that takes
  // the mutex back at once, and did so at every step of a pinned worker
  // slot's segment while the slot loading a replica waited.
  mutex_->ReaderLockWhen(
      absl::Condition(&NoWritersWaiting, &cpu_context_map_writers_waiting));
}

}  // namespace replex::engine
