#include "replica-worker/fault_injection.h"

#include <cstdlib>
#include <limits>

#include "lib/service/process.h"

namespace replex::worker {
namespace {

// The first SegmentDone of `round` in `message`, alone or in a
// SegmentDones; null if none.
v1::SegmentDone* DoneOfRound(v1::WorkerMessage& message, int64_t round) {
  if (message.has_segment_done()) {
    return message.segment_done().round() == round
               ? message.mutable_segment_done()
               : nullptr;
  }
  for (v1::SegmentDone& done :
       *message.mutable_segment_dones()->mutable_done()) {
    if (done.round() == round) return &done;
  }
  return nullptr;
}

}  // namespace

void FaultInjectingOutput::Send(const v1::WorkerMessage& message) {
  const bool has_results =
      message.has_segment_done() || message.has_segment_dones();
  v1::WorkerMessage poisoned;
  v1::SegmentDone* done = nullptr;
  if (has_results && !injected_) {
    poisoned = message;
    done = DoneOfRound(poisoned, round_);
  }
  if (done == nullptr || injected_.exchange(true)) {
    next_->Send(message);
    return;
  }
  if (fault_ == Fault::kCrash) {
    service::Log("replica %s/%d round %d: crashing (--test_crash_in_round)",
                 done->job_id(), done->replica(), round_);
    std::_Exit(70);
  }
  done->set_potential_kj_mol(std::numeric_limits<double>::quiet_NaN());
  service::Log("replica %s/%d round %d: reporting NaN (--test_inject_nan)",
               done->job_id(), done->replica(), round_);
  next_->Send(poisoned);
}

}  // namespace replex::worker
