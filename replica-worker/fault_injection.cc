#include "replica-worker/fault_injection.h"

#include <cstdlib>
#include <limits>

#include "lib/service/process.h"

namespace replex::worker {
namespace {

// The index of the first SegmentDone of `round` among `message`'s results (a
// lone SegmentDone is index 0), or -1 if it has none.
int DoneOfRound(const v1::WorkerMessage& message, int64_t round) {
  if (message.has_segment_done()) {
    return message.segment_done().round() == round ? 0 : -1;
  }
  const auto& dones = message.segment_dones().done();
  for (int i = 0; i < dones.size(); ++i) {
    if (dones[i].round() == round) return i;
  }
  return -1;
}

}  // namespace

void FaultInjectingOutput::Send(const v1::WorkerMessage& message) {
  const int index = DoneOfRound(message, round_);
  if (index < 0 || injected_.exchange(true)) {
    next_->Send(message);
    return;
  }
  v1::WorkerMessage poisoned = message;
  v1::SegmentDone& done =
      poisoned.has_segment_done()
          ? *poisoned.mutable_segment_done()
          : *poisoned.mutable_segment_dones()->mutable_done(index);
  if (fault_ == Fault::kCrash) {
    service::Log("replica %s/%d round %d: crashing (--test_crash_in_round)",
                 done.job_id(), done.replica(), round_);
    std::_Exit(70);
  }
  done.set_potential_kj_mol(std::numeric_limits<double>::quiet_NaN());
  service::Log("replica %s/%d round %d: reporting NaN (--test_inject_nan)",
               done.job_id(), done.replica(), round_);
  next_->Send(poisoned);
}

}  // namespace replex::worker
