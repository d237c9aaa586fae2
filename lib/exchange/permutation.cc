#include "lib/exchange/permutation.h"

#include <algorithm>
#include <numeric>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace replex::exchange {

Permutation Permutation::Identity(int n) {
  Permutation p;
  p.rung_of_replica_.resize(std::max(n, 0));  // a negative n is empty
  std::iota(p.rung_of_replica_.begin(), p.rung_of_replica_.end(), 0);
  p.replica_at_rung_ = p.rung_of_replica_;
  return p;
}

absl::StatusOr<Permutation> Permutation::FromRungOfReplica(
    std::vector<int> rung_of_replica) {
  const int n = static_cast<int>(rung_of_replica.size());
  std::vector<int> inverse(n, -1);
  for (int replica = 0; replica < n; ++replica) {
    const int rung = rung_of_replica[replica];
    if (rung < 0 || rung >= n) {
      return absl::InvalidArgumentError(absl::StrCat(
          "replica ", replica, " is at rung ", rung, ", outside 0..", n - 1));
    }
    if (inverse[rung] != -1) {
      return absl::InvalidArgumentError(
          absl::StrCat("replicas ", inverse[rung], " and ", replica,
                       " are both at rung ", rung, ": not a bijection"));
    }
    inverse[rung] = replica;
  }
  Permutation p;
  p.rung_of_replica_ = std::move(rung_of_replica);
  p.replica_at_rung_ = std::move(inverse);
  return p;
}

void Permutation::SwapRungs(int rung_a, int rung_b) {
  const int replica_a = replica_at_rung_[rung_a];
  const int replica_b = replica_at_rung_[rung_b];
  replica_at_rung_[rung_a] = replica_b;
  replica_at_rung_[rung_b] = replica_a;
  rung_of_replica_[replica_a] = rung_b;
  rung_of_replica_[replica_b] = rung_a;
}

}  // namespace replex::exchange
