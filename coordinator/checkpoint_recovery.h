// The failures a job survives by rolling back to its last checkpoint, told
// apart from those that end it by a status payload: the pool tags them where
// it sees them, the job manager reads the tag.
#pragma once

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

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
