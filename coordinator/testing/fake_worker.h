// A replica-worker without sockets or OpenMM, for tests: it joins a
// WorkerRegistry directly and answers on its own thread as a real worker
// would. Its energies depend only on (replica, round, rung), as a real
// worker's depend only on the job's spec and seed, so a job's outcome must
// not depend on which fake ran which replica.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "coordinator/worker_registry.h"
#include "replex/v1/job.pb.h"
#include "replex/v1/job_service.pb.h"
#include "replex/v1/worker.pb.h"

namespace replex::coordinator {

// A valid job for tests: `n_rungs` temperatures from 300 K, plus a lambda
// ladder when `hamiltonian` (so replicas report reduced potentials too).
// The System is a placeholder: nothing here runs OpenMM.
v1::JobSpec TestSpec(int n_rungs, int n_rounds, bool hamiltonian = false,
                     const std::string& platform = "CPU");

// A compact picture of a watch's events for assertions: "QUEUED",
// "RUNNING", "round 0", ... (snapshots by state, rounds by number).
std::vector<std::string> DescribeEvents(
    const std::vector<v1::JobEvent>& events);

// The energy a fake reports for `replica` after `round` at `rung`.
double FakePotential(int replica, int64_t round);
double FakeReduced(int replica, int64_t round, int rung);
// A fake's answer to `order`: a SegmentDone with the energies above.
v1::WorkerMessage FakeSegmentDone(const v1::SegmentOrder& order);

// Thread-safe.
class FakeWorker {
 public:
  // Registers at once; check status().
  FakeWorker(WorkerRegistry* registry, const std::string& name, int slots,
             int max_replicas, const std::string& platform = "CPU");
  ~FakeWorker();  // Leave()
  FakeWorker(const FakeWorker&) = delete;
  FakeWorker& operator=(const FakeWorker&) = delete;

  const absl::Status& status() const { return status_; }
  const std::string& worker_id() const { return worker_id_; }

  void SayGoodbye();
  // Ends its stream as a process exiting would; returns how the registry
  // ended the session. Idempotent.
  absl::Status Leave();

  // Replicas it hosts now, as (job, replica).
  std::set<std::pair<std::string, int>> hosted() const;
  int segments_run() const;
  // Everything it received but heartbeats, in order.
  std::vector<v1::CoordinatorMessage> received() const;
  // Orders it got for replicas it did not host at that epoch (a protocol
  // error the coordinator must never make).
  int bad_orders() const;

 private:
  struct Hosted {
    int64_t epoch = 0;
    int rung = 0;
    int64_t last_round = -1;
  };
  void Serve();
  // Returns the replies to send outside the lock.
  std::vector<v1::WorkerMessage> Handle(const v1::CoordinatorMessage& in);
  // One order of a SegmentOrders: its SegmentDone, or none when the fake does
  // not host the replica at that epoch.
  std::optional<v1::WorkerMessage> Run(const v1::SegmentOrder& order)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  WorkerRegistry* const registry_;
  absl::Status status_;
  uint64_t key_ = 0;
  std::string worker_id_;
  std::thread thread_;
  absl::Mutex leave_mu_;
  std::optional<absl::Status> left_ ABSL_GUARDED_BY(leave_mu_);

  mutable absl::Mutex mu_;
  std::set<std::string> jobs_ ABSL_GUARDED_BY(mu_);
  std::map<std::pair<std::string, int>, Hosted> hosted_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::CoordinatorMessage> received_ ABSL_GUARDED_BY(mu_);
  int segments_run_ ABSL_GUARDED_BY(mu_) = 0;
  int bad_orders_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace replex::coordinator
