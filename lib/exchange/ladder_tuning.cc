#include "lib/exchange/ladder_tuning.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace replex::exchange {

double ErfcInverse(double p) {
  if (!(p > 0)) p = 1e-300;
  if (p >= 1) return 0;
  // erfc falls from 1 at 0 to 1e-300 near 26.2: bisect on [0, 27].
  double low = 0, high = 27;
  for (int i = 0; i < 200 && high - low > 1e-15 * high; ++i) {
    const double mid = 0.5 * (low + high);
    (std::erfc(mid) > p ? low : high) = mid;
  }
  return 0.5 * (low + high);
}

absl::StatusOr<TunedLadder> EqualAcceptanceLadder(
    const Ladder& ladder, const std::vector<double>& acceptance) {
  const int n = ladder.size();
  if (!ladder.temperature_only() || ladder.has_pressures() ||
      ladder.axes() != 1) {
    return absl::FailedPreconditionError(
        "only an ordinary temperature ladder is tuned here (no parameters, "
        "pressures or grid axes)");
  }
  if (n < 3) {
    return absl::FailedPreconditionError(
        "a ladder of fewer than 3 rungs has no inner temperature to move");
  }
  if (static_cast<int>(acceptance.size()) != n - 1) {
    return absl::FailedPreconditionError(absl::StrCat(
        acceptance.size(), " acceptances for ", n - 1, " neighbour pairs"));
  }
  // Per pair: its length x_k and its width in beta (beta falls as T rises).
  std::vector<double> length(n - 1), width(n - 1);
  double total = 0;
  for (int k = 0; k + 1 < n; ++k) {
    if (!(acceptance[k] >= 0 && acceptance[k] <= 1)) {
      return absl::FailedPreconditionError(
          absl::StrCat("pair ", k, "-", k + 1, " has no acceptance yet (",
                       acceptance[k], "): run more rounds"));
    }
    width[k] = ladder.beta(k) - ladder.beta(k + 1);
    if (!(width[k] > 0)) {
      return absl::FailedPreconditionError(
          absl::StrCat("rungs ", k, " and ", k + 1,
                       " have the same temperature: nothing to space"));
    }
    length[k] = ErfcInverse(acceptance[k]);
    total += length[k];
  }
  if (!(total > 0)) {
    return absl::FailedPreconditionError(
        "every pair always accepted: acceptance says nothing about spacing "
        "(fewer or wider-spaced rungs would do)");
  }
  TunedLadder tuned;
  tuned.predicted_acceptance = std::erfc(total / (n - 1));
  tuned.temperatures_k.push_back(ladder.rung(0).temperature_k);
  // New rung j sits where the cumulative length reaches j * total / (n - 1),
  // linearly in beta within the old pair it falls in.
  int k = 0;
  double before = 0;  // length up to old rung k
  for (int j = 1; j + 1 < n; ++j) {
    const double target = total * j / (n - 1);
    while (k + 2 < n && before + length[k] < target) before += length[k++];
    const double fraction =
        length[k] > 0 ? std::min(1.0, (target - before) / length[k]) : 0;
    const double beta = ladder.beta(k) - fraction * width[k];
    tuned.temperatures_k.push_back(1 / (kMolarGasConstantKJPerMolK * beta));
  }
  tuned.temperatures_k.push_back(ladder.rung(n - 1).temperature_k);
  return tuned;
}

}  // namespace replex::exchange
