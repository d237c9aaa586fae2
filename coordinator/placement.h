// Where a job's replicas should run: a pure function of the workers' sizes,
// what other jobs already put on them, and where the replicas are now.
// The worker registry calls it when a job is admitted and again at every
// round boundary, so that new workers get replicas and draining ones are
// emptied; it is deterministic so that tests can state exact placements.
#pragma once

#include <optional>
#include <vector>

namespace replex::coordinator {

struct WorkerLoad {
  int slots = 1;         // segments it runs at once (> 0)
  int max_replicas = 1;  // replicas it can host, all jobs together
  int others = 0;        // replicas of other jobs it hosts now
  bool eligible = true;  // right platform and not draining
};

// Returns, per replica, the index in `workers` of the worker that should host
// it. `current[r]` is replica r's host now, or -1 when it has none.
//
// The job's replicas are dealt one at a time to the eligible worker with the
// lowest (replicas after this one) / slots, counting other jobs' replicas
// too, so that across all running jobs each worker's share is proportional
// to its slots (D'Hondt apportionment), never above max_replicas. Ties go to
// a worker that already hosts more of this job's replicas than it has been
// dealt (so that a balanced placement is a fixed point and nothing moves for
// nothing), then to the lower index. Replicas then stay where they are up to
// their host's share; the rest (unplaced first, then those on ineligible
// workers, then the surplus, each in replica order) fill the open shares in
// worker order. Replicas on an ineligible worker stay there while the others
// have no room.
//
// Returns nullopt when some replica has no host and there is no room for it.
std::optional<std::vector<int>> PlaceReplicas(
    const std::vector<WorkerLoad>& workers, const std::vector<int>& current);

}  // namespace replex::coordinator
