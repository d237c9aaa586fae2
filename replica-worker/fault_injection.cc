#include "replica-worker/fault_injection.h"

#include <cstdlib>
#include <limits>

#include "lib/service/process.h"

namespace replex::worker {

void FaultInjectingOutput::Send(const v1::WorkerMessage& message) {
  if (!message.has_segment_done() || message.segment_done().round() != round_ ||
      injected_.exchange(true)) {
    next_->Send(message);
    return;
  }
  if (fault_ == Fault::kCrash) {
    service::Log("replica %s/%d round %d: crashing (--test_crash_in_round)",
                 message.segment_done().job_id(),
                 message.segment_done().replica(), round_);
    std::_Exit(70);
  }
  v1::WorkerMessage poisoned = message;
  poisoned.mutable_segment_done()->set_potential_kj_mol(
      std::numeric_limits<double>::quiet_NaN());
  service::Log("replica %s/%d round %d: reporting NaN (--test_inject_nan)",
               message.segment_done().job_id(),
               message.segment_done().replica(), round_);
  next_->Send(poisoned);
}

}  // namespace replex::worker
