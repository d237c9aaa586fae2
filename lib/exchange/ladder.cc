#include "lib/exchange/ladder.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <set>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace replex::exchange {

absl::StatusOr<Ladder> Ladder::Create(std::vector<std::string> parameter_names,
                                      std::vector<Rung> rungs,
                                      std::vector<int> shape) {
  if (rungs.empty()) {
    return absl::InvalidArgumentError(
        "the ladder has no rungs: give at least one temperature or parameter "
        "value (one rung per replica)");
  }
  std::set<std::string> seen;
  for (const std::string& name : parameter_names) {
    if (name.empty()) {
      return absl::InvalidArgumentError(
          "a ladder parameter has an empty name: use the global parameter's "
          "name as defined in the System");
    }
    if (!seen.insert(name).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          "ladder parameter '", name, "' is given twice: list it once"));
    }
  }
  Ladder ladder;
  ladder.betas_.reserve(rungs.size());
  for (size_t k = 0; k < rungs.size(); ++k) {
    const Rung& rung = rungs[k];
    if (!std::isfinite(rung.temperature_k) || rung.temperature_k <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("rung ", k, ": temperature ", rung.temperature_k,
                       " K is not a positive finite number of kelvin"));
    }
    if (rung.parameters.size() != parameter_names.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "rung ", k, " has ", rung.parameters.size(),
          " parameter values but the ladder names ", parameter_names.size(),
          " (", absl::StrJoin(parameter_names, ", "),
          "): give one value per parameter per rung"));
    }
    if (rung.pressure_bar.has_value() != rungs[0].pressure_bar.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "rung ", k, rung.pressure_bar.has_value() ? " has" : " has no",
          " pressure but rung 0 ",
          rungs[0].pressure_bar.has_value() ? "has" : "has none",
          ": give a pressure for every rung or for none"));
    }
    if (rung.pressure_bar.has_value() &&
        (!std::isfinite(*rung.pressure_bar) || *rung.pressure_bar <= 0)) {
      return absl::InvalidArgumentError(
          absl::StrCat("rung ", k, ": pressure ", *rung.pressure_bar,
                       " bar is not a positive finite number of bar"));
    }
    for (size_t p = 0; p < rung.parameters.size(); ++p) {
      if (!std::isfinite(rung.parameters[p])) {
        return absl::InvalidArgumentError(
            absl::StrCat("rung ", k, ": parameter '", parameter_names[p],
                         "' is ", rung.parameters[p], ": give a finite value"));
      }
    }
    if (rung.parameters != rungs[0].parameters) {
      ladder.temperature_only_ = false;
    }
    ladder.betas_.push_back(1.0 /
                            (kMolarGasConstantKJPerMolK * rung.temperature_k));
  }
  if (absl::Status status = ladder.SetShape(std::move(shape), rungs);
      !status.ok()) {
    return status;
  }
  ladder.names_ = std::move(parameter_names);
  ladder.rungs_ = std::move(rungs);
  return ladder;
}

absl::Status Ladder::SetShape(std::vector<int> shape,
                              const std::vector<Rung>& rungs) {
  const int n = static_cast<int>(rungs.size());
  if (shape.empty()) shape = {n};
  int64_t product = 1;
  for (int extent : shape) {
    if (extent < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("grid shape ", absl::StrJoin(shape, " x "),
                       ": every axis needs at least one rung"));
    }
    product *= extent;
    if (product > n) break;
  }
  if (product != n) {
    return absl::InvalidArgumentError(
        absl::StrCat("grid shape ", absl::StrJoin(shape, " x "),
                     " does not hold the ladder's ", n,
                     " rungs: give one rung per grid point"));
  }
  const int axes = static_cast<int>(shape.size());
  strides_.assign(axes, 1);
  for (int a = axes - 2; a >= 0; --a)
    strides_[a] = strides_[a + 1] * shape[a + 1];
  shape_ = std::move(shape);
  pair_of_.assign(static_cast<size_t>(n) * axes, -1);
  for (int a = 0; a < axes; ++a) {
    for (int lower = 0; lower < n; ++lower) {
      if (Coordinate(lower, a) + 1 == shape_[a]) continue;
      const int upper = lower + strides_[a];
      const Rung& low = rungs[lower];
      const Rung& high = rungs[upper];
      const std::string along = axes > 1 ? absl::StrCat(" along axis ", a) : "";
      if (high.temperature_k < low.temperature_k) {
        return absl::InvalidArgumentError(
            absl::StrCat("rung ", upper, ": temperature ", high.temperature_k,
                         " K is below rung ", lower, "'s ", low.temperature_k,
                         " K: list rungs in increasing temperature", along));
      }
      if (high.temperature_k == low.temperature_k &&
          high.pressure_bar == low.pressure_bar &&
          high.parameters == low.parameters) {
        return absl::InvalidArgumentError(absl::StrCat(
            "rungs ", lower, " and ", upper, " are identical", along,
            ": every rung needs its own temperature, pressure or parameter "
            "values"));
      }
      pair_of_[static_cast<size_t>(lower) * axes + a] =
          static_cast<int>(pairs_.size());
      pairs_.push_back({lower, upper, a});
    }
  }
  return absl::OkStatus();
}

int Ladder::PairIndex(int a, int b) const {
  const int lower = std::min(a, b);
  const int distance = std::max(a, b) - lower;
  if (lower < 0 || std::max(a, b) >= size()) return -1;
  for (int axis = 0; axis < axes(); ++axis) {
    if (strides_[axis] == distance) {
      return pair_of_[static_cast<size_t>(lower) * axes() + axis];
    }
  }
  return -1;
}

std::vector<double> Ladder::Geometric(double first, double last, int n) {
  std::vector<double> values;
  for (int k = 0; k < n; ++k) {
    values.push_back(
        n == 1
            ? first
            : first * std::pow(last / first, static_cast<double>(k) / (n - 1)));
  }
  if (n > 1) values.back() = last;  // exact endpoint despite rounding
  return values;
}

std::vector<double> Ladder::Linear(double first, double last, int n) {
  std::vector<double> values;
  for (int k = 0; k < n; ++k) {
    values.push_back(n == 1 ? first : first + (last - first) * k / (n - 1));
  }
  if (n > 1) values.back() = last;
  return values;
}

}  // namespace replex::exchange
