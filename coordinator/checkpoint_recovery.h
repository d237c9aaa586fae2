// The failures a job survives by rolling back to its last checkpoint, told
// apart from those that end it by a status payload: the pool tags them where
// it sees them, the job manager reads the tag.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "lib/runner/driver.h"

namespace replex::coordinator {

inline constexpr char kRollbackPayload[] = "type.replex.dev/rollback";

// A worker holding the job's replicas went away: every replica reloads from
// the checkpoint; nothing about the replicas themselves was wrong.
inline absl::Status WorkerLostError(const std::string& message) {
  absl::Status status = absl::UnavailableError(message);
  status.SetPayload(kRollbackPayload, absl::Cord("worker"));
  return status;
}

// One replica's integration failed (NaN or Inf energy, an OpenMM error):
// the job rolls back and that replica restarts with fresh velocities.
inline absl::Status ReplicaFaultError(int replica, const std::string& message) {
  absl::Status status = absl::AbortedError(message);
  status.SetPayload(kRollbackPayload, absl::Cord(absl::StrCat(replica)));
  return status;
}

// A replica whose energy is not finite has blown up: its segment cannot be
// trusted, and the exchange would fail on it or accept nonsense. `round` is
// the order's (a segment's number under asynchronous exchange).
inline absl::Status CheckFinite(int replica,
                                const runner::SegmentResult& result,
                                int64_t round) {
  const bool nan_reduced =
      std::any_of(result.reduced.begin(), result.reduced.end(),
                  [](double u) { return std::isnan(u); });
  if (std::isfinite(result.potential_kj_mol) && !nan_reduced) {
    return absl::OkStatus();
  }
  return ReplicaFaultError(
      replica,
      absl::StrCat("replica ", replica,
                   " reported a non-finite energy in round ", round,
                   " (potential ", result.potential_kj_mol, " kJ/mol)"));
}

inline bool CallsForRollback(const absl::Status& status) {
  return status.GetPayload(kRollbackPayload).has_value();
}

// The replica a ReplicaFaultError names.
inline std::optional<int> FaultyReplica(const absl::Status& status) {
  const auto payload = status.GetPayload(kRollbackPayload);
  int replica;
  if (payload.has_value() &&
      absl::SimpleAtoi(std::string(*payload), &replica)) {
    return replica;
  }
  return std::nullopt;
}

}  // namespace replex::coordinator
