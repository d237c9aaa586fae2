// Test-only fault injection, kept out of the replica host: a HostOutput
// decorator that acts on the first SegmentDone of one round (alone or in a
// SegmentDones), so tests see
// what a blown-up replica (replex-worker --test_inject_nan: a NaN energy) or
// a job that crashes its worker (--test_crash_in_round: the process exits
// at once, as after a segfault) does to a job.
#pragma once

#include <atomic>
#include <cstdint>

#include "replex/v1/worker.pb.h"
#include "replica-worker/replica_host.h"

namespace replex::worker {

// Thread-safe, as HostOutput must be.
class FaultInjectingOutput : public HostOutput {
 public:
  enum class Fault { kNan, kCrash };
  // The first SegmentDone of `round` passed on reports a NaN potential
  // energy (kNan), once; or, instead of being sent, ends the process with
  // status 70 (kCrash). `next` must outlive this.
  FaultInjectingOutput(Fault fault, int64_t round, HostOutput* next)
      : fault_(fault), round_(round), next_(next) {}

  void Send(const v1::WorkerMessage& message) override;
  void OnIdle() override { next_->OnIdle(); }

 private:
  const Fault fault_;
  const int64_t round_;
  HostOutput* const next_;
  std::atomic<bool> injected_{false};
};

}  // namespace replex::worker
