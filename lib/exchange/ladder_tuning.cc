#include "lib/exchange/ladder_tuning.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

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

namespace {

// The ladders both tuners take: ordinary (one axis, no per-rung pressures)
// of at least 3 rungs; and `count` values of `what` where they need
// `expected`.
absl::Status CheckTunable(const Ladder& ladder, size_t count, size_t expected,
                          absl::string_view what) {
  const int n = ladder.size();
  if (ladder.has_pressures() || ladder.axes() != 1) {
    return absl::FailedPreconditionError(
        "only an ordinary ladder is tuned here (no per-rung pressures or grid "
        "axes)");
  }
  if (n < 3) {
    return absl::FailedPreconditionError(
        "a ladder of fewer than 3 rungs has no inner rung to move");
  }
  if (count != expected) {
    return absl::FailedPreconditionError(
        absl::StrCat(count, " ", what, " for a ladder of ", n, " rungs"));
  }
  // No two neighbours are the same: Ladder::Create refuses such a ladder.
  return absl::OkStatus();
}

// Where the n - 1 new intervals of a ladder of n rungs end so that each
// holds an equal share of the summed `length` (one per old interval, spread
// uniformly within it): for each inner new rung, the old interval k it falls
// in and how far into it (0..1).
struct Position {
  int interval;
  double fraction;
};
std::vector<Position> EvenPositions(const std::vector<double>& length) {
  const int n = static_cast<int>(length.size()) + 1;
  double total = 0;
  for (double l : length) total += l;
  std::vector<Position> positions;
  int k = 0;
  double before = 0;  // length up to old rung k
  for (int j = 1; j + 1 < n; ++j) {
    const double target = total * j / (n - 1);
    while (k + 2 < n && before + length[k] < target) before += length[k++];
    positions.push_back(
        {k, length[k] > 0 ? std::min(1.0, (target - before) / length[k]) : 0});
  }
  return positions;
}

// The rungs at `positions` between `ladder`'s ends, every parameter linear
// in the position within an old interval, and the temperature linear in
// beta (`in_beta`) or in T. The end rungs stay exactly as they are.
std::vector<Rung> RungsAt(const Ladder& ladder,
                          const std::vector<Position>& positions,
                          bool in_beta) {
  auto along = [](double a, double b, double f) { return a + f * (b - a); };
  std::vector<Rung> rungs = {ladder.rung(0)};
  for (const auto& [k, f] : positions) {
    const Rung& low = ladder.rung(k);
    const Rung& high = ladder.rung(k + 1);
    Rung rung;
    // T -> beta -> T can be an ulp off (between equal temperatures too),
    // which would break the ladder's order: it stays within its old rungs'.
    rung.temperature_k =
        in_beta ? std::clamp(1 / (kMolarGasConstantKJPerMolK *
                                  along(ladder.beta(k), ladder.beta(k + 1), f)),
                             low.temperature_k, high.temperature_k)
                : along(low.temperature_k, high.temperature_k, f);
    for (size_t p = 0; p < low.parameters.size(); ++p) {
      rung.parameters.push_back(
          along(low.parameters[p], high.parameters[p], f));
    }
    rungs.push_back(std::move(rung));
  }
  rungs.push_back(ladder.rung(ladder.size() - 1));
  return rungs;
}

}  // namespace

absl::StatusOr<TunedLadder> EqualAcceptanceLadder(
    const Ladder& ladder, const std::vector<double>& acceptance) {
  if (absl::Status status =
          CheckTunable(ladder, acceptance.size(), ladder.size() - 1,
                       "acceptances (one per neighbour pair)");
      !status.ok()) {
    return status;
  }
  const int n = ladder.size();
  // Per pair its length x_k; spread linearly in beta.
  std::vector<double> length(n - 1);
  double total = 0;
  for (int k = 0; k + 1 < n; ++k) {
    if (!(acceptance[k] >= 0 && acceptance[k] <= 1)) {
      return absl::FailedPreconditionError(
          absl::StrCat("pair ", k, "-", k + 1, " has no acceptance yet (",
                       acceptance[k], "): run more rounds"));
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
  tuned.rungs = RungsAt(ladder, EvenPositions(length), /*in_beta=*/true);
  return tuned;
}

namespace {

// A rung's quantity q: 0 is the temperature, 1 + p parameter p.
double& Quantity(Rung& rung, int q) {
  return q == 0 ? rung.temperature_k : rung.parameters[q - 1];
}
double Quantity(const Rung& rung, int q) {
  return q == 0 ? rung.temperature_k : rung.parameters[q - 1];
}

// The axis along which rung 0's line of each quantity varies; -1 where none
// does.
std::vector<int> OwningAxes(const Ladder& ladder) {
  const int quantities = 1 + static_cast<int>(ladder.parameter_names().size());
  std::vector<int> owner(quantities, -1);
  for (int a = 0; a < ladder.axes(); ++a) {
    for (int i = 1; i < ladder.shape()[a]; ++i) {
      for (int q = 0; q < quantities; ++q) {
        if (Quantity(ladder.rung(i * ladder.Stride(a)), q) !=
            Quantity(ladder.rung(0), q)) {
          owner[q] = a;
        }
      }
    }
  }
  return owner;
}

// Rung k of the grid whose axis a runs through lines[a] (each quantity from
// the line of the axis that owns it, or rung 0's).
Rung GridRung(const Ladder& ladder, const std::vector<int>& owner,
              const std::vector<std::vector<Rung>>& lines, int k) {
  Rung rung = ladder.rung(0);
  for (int q = 0; q < static_cast<int>(owner.size()); ++q) {
    if (owner[q] < 0) continue;
    Quantity(rung, q) =
        Quantity(lines[owner[q]][ladder.Coordinate(k, owner[q])], q);
  }
  return rung;
}

}  // namespace

absl::StatusOr<std::vector<Rung>> EqualAcceptanceGrid(
    const Ladder& ladder, const std::vector<int64_t>& pair_attempts,
    const std::vector<int64_t>& pair_accepts) {
  if (ladder.has_pressures() || ladder.axes() < 2) {
    return absl::FailedPreconditionError(
        "only a grid ladder without per-rung pressures is tuned here");
  }
  const size_t pairs = ladder.pairs().size();
  if (pair_attempts.size() != pairs || pair_accepts.size() != pairs) {
    return absl::FailedPreconditionError(absl::StrCat(
        pair_attempts.size(), " attempt and ", pair_accepts.size(),
        " accept counts for a grid of ", pairs, " neighbour pairs"));
  }
  const std::vector<int> owner = OwningAxes(ladder);
  // Each axis's line of rungs through rung 0, as it is and as tuned.
  std::vector<std::vector<Rung>> lines(ladder.axes());
  for (int a = 0; a < ladder.axes(); ++a) {
    for (int i = 0; i < ladder.shape()[a]; ++i) {
      lines[a].push_back(ladder.rung(i * ladder.Stride(a)));
    }
  }
  for (int k = 0; k < ladder.size(); ++k) {
    const Rung product = GridRung(ladder, owner, lines, k);
    if (product.temperature_k != ladder.rung(k).temperature_k ||
        product.parameters != ladder.rung(k).parameters) {
      return absl::FailedPreconditionError(absl::StrCat(
          "rung ", k,
          " is not the product of the grid's axes (a value varies along two "
          "axes): only a product grid is tuned"));
    }
  }
  std::vector<std::vector<Rung>> tuned = lines;
  for (int a = 0; a < ladder.axes(); ++a) {
    const int m = ladder.shape()[a];
    if (m < 3) continue;
    std::vector<int64_t> attempts(m - 1, 0), accepts(m - 1, 0);
    for (size_t p = 0; p < pairs; ++p) {
      const Ladder::Pair& pair = ladder.pairs()[p];
      if (pair.axis != a) continue;
      const int i = ladder.Coordinate(pair.lower, a);
      attempts[i] += pair_attempts[p];
      accepts[i] += pair_accepts[p];
    }
    std::vector<double> acceptance(m - 1);
    for (int i = 0; i + 1 < m; ++i) {
      acceptance[i] = EstimatedAcceptance(accepts[i], attempts[i]);
    }
    absl::StatusOr<Ladder> line =
        Ladder::Create(ladder.parameter_names(), lines[a]);
    if (!line.ok()) return line.status();
    absl::StatusOr<TunedLadder> along =
        EqualAcceptanceLadder(*line, acceptance);
    if (!along.ok()) {
      return absl::Status(
          along.status().code(),
          absl::StrCat("axis ", a, ": ", along.status().message()));
    }
    tuned[a] = std::move(along->rungs);
  }
  std::vector<Rung> rungs;
  for (int k = 0; k < ladder.size(); ++k) {
    rungs.push_back(GridRung(ladder, owner, tuned, k));
  }
  return rungs;
}

absl::StatusOr<std::vector<Rung>> RoundTripLadder(
    const Ladder& ladder, const std::vector<double>& fraction_up) {
  if (absl::Status status =
          CheckTunable(ladder, fraction_up.size(), ladder.size(),
                       "fractions up (one per rung)");
      !status.ok()) {
    return status;
  }
  const int n = ladder.size();
  std::vector<double> length(n - 1);
  for (int k = 0; k < n; ++k) {
    if (!(fraction_up[k] >= 0 && fraction_up[k] <= 1)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "rung ", k, " has no fraction of up-going replicas yet (",
          fraction_up[k],
          "): run more rounds, until replicas have travelled "
          "between the ends"));
    }
  }
  // The optimal density of rungs is sqrt((df/dT) / dT), constant within an
  // old interval, so an interval's share is sqrt(df_k) (df_k = f_k -
  // f_{k+1}): where f falls fastest the replicas' diffusion is slowest and
  // more rungs go. A drop below a tenth of the even one (1 / (n - 1)),
  // negative included (noise), counts as that tenth, so no interval
  // collapses on one estimate.
  const double floor = 0.1 / (n - 1);
  for (int k = 0; k + 1 < n; ++k) {
    length[k] = std::sqrt(std::max(floor, fraction_up[k] - fraction_up[k + 1]));
  }
  return RungsAt(ladder, EvenPositions(length), /*in_beta=*/false);
}

}  // namespace replex::exchange
