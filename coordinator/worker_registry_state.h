// The registry's own picture of each worker and each placed job, shared by
// its two halves: sessions (worker_registry.cc) and rounds
// (worker_rounds.cc). Everything here is guarded by WorkerRegistry::mu_.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "coordinator/worker_registry.h"
#include "lib/runner/driver.h"
#include "replex/v1/job.pb.h"
#include "replex/v1/worker.pb.h"

namespace replex::coordinator {

struct WorkerRegistry::Worker {
  uint64_t key = 0;
  std::string id;  // name#key, sent in Welcome
  v1::Register hello;
  absl::Time last_heard;
  bool draining = false;  // said Goodbye: nothing new is placed on it
  bool gone = false;      // lost or left: not eligible, sends are dropped
  std::vector<v1::CoordinatorMessage> outbox;
  std::optional<absl::Status> end;    // set once the session is over
  std::function<void()> end_session;  // from Connect
  // Jobs sent LoadJob and no UnloadJob since, with the version of each one's
  // adaptive ladder sent (LadderUpdate; 0: the spec's).
  absl::flat_hash_map<std::string, int> loaded_jobs;
  int hosted = 0;  // replicas placed here, all jobs together

  const std::string& name() const { return hello.worker_name(); }
  bool HasOutput() const { return !outbox.empty() || end.has_value(); }
};

struct WorkerRegistry::Job {
  struct Replica {
    uint64_t host = 0;    // worker key; 0 before placement
    int64_t epoch = 0;    // of its latest LoadReplica; bumped on each one
    bool loaded = false;  // LoadReplica sent to `host` for `epoch`
    int rung = 0;         // where it last ran (replica r starts at rung r)
    // An adaptive ladder: the temperature it last ran at (0: the rung's in
    // the spec), which its state's velocities are at.
    double temperature_k = 0;
    uint64_t releasing_from = 0;  // awaiting its state from this worker
    std::string state;            // to restore on its next host
    // From a rollback, for its next LoadReplica (see ReplicaStart).
    std::optional<uint64_t> velocity_seed;
    bool redraw_velocities = false;
  };

  std::string id;
  std::shared_ptr<const v1::JobSpec> spec;
  std::vector<Replica> replicas;
  absl::Status failure;     // once set, every RunRound returns it
  int failed_replica = -1;  // the replica whose SegmentFailed set it
  // Per replica: the round of its order out (under asynchronous exchange,
  // its segment's number), -1 when none; and its result once in.
  std::vector<int64_t> open_rounds;
  std::vector<std::optional<runner::SegmentResult>> results;
  // The open orders' adaptive ladder version, when its parameters differ
  // from the spec's, which every SegmentDone must echo (0: nothing to echo).
  int echoed_version = 0;
  int pending_results = 0;
  // Replicas whose results are in, in the order they came (AwaitSegment).
  std::deque<int> arrived;
  int pending_states = 0;

  bool StatesIn() const { return pending_states == 0 || !failure.ok(); }
  bool ResultsIn() const { return pending_results == 0 || !failure.ok(); }
  bool ArrivedOrFailed() const { return !arrived.empty() || !failure.ok(); }
  bool Uses(uint64_t key) const {
    return std::any_of(
        replicas.begin(), replicas.end(), [key](const Replica& replica) {
          return replica.host == key || replica.releasing_from == key;
        });
  }
  // Holds replica state there: losing the worker loses it.
  bool DependsOn(uint64_t key) const {
    return std::any_of(replicas.begin(), replicas.end(),
                       [key](const Replica& replica) {
                         return (replica.host == key && replica.loaded) ||
                                replica.releasing_from == key;
                       });
  }
};

}  // namespace replex::coordinator
