// ContextMutex's one decision: which platforms lock, and what.
#include "lib/engine/context_mutex.h"

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

}  // namespace

ContextMutex::ContextMutex(absl::string_view platform)
    : mutex_(platform == "CPU" ? &cpu_context_map_mutex : nullptr) {}

// The analysis cannot follow a lock taken on one platform only; callers are
// checked against the annotations on the declarations instead.
void ContextMutex::Lock() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  if (mutex_ != nullptr) mutex_->Lock();
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

}  // namespace replex::engine
