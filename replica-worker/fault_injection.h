// Test-only fault injection, kept out of the replica host: a HostOutput
// decorator that turns the first SegmentDone of one round into a NaN energy,
// so tests see what a blown-up replica does to a job (replex-worker
// --test_inject_nan).
#pragma once

#include <atomic>
#include <cstdint>

#include "replex/v1/worker.pb.h"
#include "replica-worker/replica_host.h"

namespace replex::worker {

// Thread-safe, as HostOutput must be.
class NanInjectingOutput : public HostOutput {
 public:
  // The first SegmentDone of `round` passed on reports a NaN potential
  // energy, once. `next` must outlive this.
  NanInjectingOutput(int64_t round, HostOutput* next)
      : round_(round), next_(next) {}

  void Send(const v1::WorkerMessage& message) override;
  void OnIdle() override { next_->OnIdle(); }

 private:
  const int64_t round_;
  HostOutput* const next_;
  std::atomic<bool> injected_{false};
};

}  // namespace replex::worker
