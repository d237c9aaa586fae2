// The replica <-> rung assignment of a job: always a bijection.
#pragma once

#include <vector>

#include "absl/status/statusor.h"

namespace replex::exchange {

// A value type; not thread-safe for concurrent mutation.
class Permutation {
 public:
  static Permutation Identity(int n);
  // Fails unless rung_of_replica is a bijection onto 0..n-1.
  static absl::StatusOr<Permutation> FromRungOfReplica(
      std::vector<int> rung_of_replica);

  int size() const { return static_cast<int>(rung_of_replica_.size()); }
  int rung_of_replica(int replica) const { return rung_of_replica_[replica]; }
  int replica_at_rung(int rung) const { return replica_at_rung_[rung]; }
  const std::vector<int>& rung_of_replica() const { return rung_of_replica_; }
  const std::vector<int>& replica_at_rung() const { return replica_at_rung_; }

  // Exchanges the replicas occupying two rungs; keeps the bijection.
  void SwapRungs(int rung_a, int rung_b);

  friend bool operator==(const Permutation& a, const Permutation& b) {
    return a.rung_of_replica_ == b.rung_of_replica_;
  }
  friend bool operator!=(const Permutation& a, const Permutation& b) {
    return !(a == b);
  }

 private:
  std::vector<int> rung_of_replica_;
  std::vector<int> replica_at_rung_;
};

}  // namespace replex::exchange
