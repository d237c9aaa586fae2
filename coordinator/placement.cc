#include "coordinator/placement.h"

#include <algorithm>
#include <cstdint>

namespace replex::coordinator {
namespace {

int Room(const WorkerLoad& worker) {
  return worker.eligible ? std::max(0, worker.max_replicas - worker.others) : 0;
}

}  // namespace

std::optional<std::vector<int>> PlaceReplicas(
    const std::vector<WorkerLoad>& workers, const std::vector<int>& current) {
  const int n_workers = static_cast<int>(workers.size());
  const int n = static_cast<int>(current.size());
  std::vector<int> hosted(n_workers, 0);  // this job's replicas per worker now
  for (int host : current) {
    if (host >= 0) ++hosted[host];
  }

  // Shares: deal min(n, room) replicas, one at a time.
  int room = 0;
  for (const WorkerLoad& worker : workers) room += Room(worker);
  std::vector<int> share(n_workers, 0);
  for (int dealt = 0; dealt < std::min(n, room); ++dealt) {
    int best = -1;
    for (int w = 0; w < n_workers; ++w) {
      if (share[w] >= Room(workers[w])) continue;
      if (best < 0) {
        best = w;
        continue;
      }
      // (others + share + 1) / slots, compared without division.
      const int64_t lhs =
          int64_t{workers[w].others + share[w] + 1} * workers[best].slots;
      const int64_t rhs =
          int64_t{workers[best].others + share[best] + 1} * workers[w].slots;
      const bool keeps_w = share[w] < hosted[w];
      const bool keeps_best = share[best] < hosted[best];
      if (lhs < rhs || (lhs == rhs && keeps_w && !keeps_best)) best = w;
    }
    ++share[best];
  }

  // Keep replicas in place up to their host's share; collect the rest.
  std::vector<int> placement = current;
  std::vector<int> kept(n_workers, 0);
  std::vector<int> unplaced, on_ineligible, surplus;
  for (int r = 0; r < n; ++r) {
    const int host = current[r];
    if (host < 0) {
      unplaced.push_back(r);
    } else if (!workers[host].eligible) {
      on_ineligible.push_back(r);
    } else if (kept[host] < share[host]) {
      ++kept[host];
    } else {
      surplus.push_back(r);
    }
  }
  std::vector<int> movers = unplaced;
  movers.insert(movers.end(), on_ineligible.begin(), on_ineligible.end());
  movers.insert(movers.end(), surplus.begin(), surplus.end());

  size_t next = 0;
  for (int w = 0; w < n_workers && next < movers.size(); ++w) {
    for (int open = share[w] - kept[w]; open > 0 && next < movers.size();
         --open) {
      placement[movers[next++]] = w;
    }
  }
  for (int r : unplaced) {
    if (placement[r] < 0) return std::nullopt;
  }
  return placement;
}

}  // namespace replex::coordinator
