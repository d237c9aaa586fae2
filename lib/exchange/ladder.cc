#include "lib/exchange/ladder.h"

#include <cmath>
#include <set>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace replex::exchange {

absl::StatusOr<Ladder> Ladder::Create(std::vector<std::string> parameter_names,
                                      std::vector<Rung> rungs) {
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
    if (k > 0) {
      const Rung& prev = rungs[k - 1];
      if (rung.temperature_k < prev.temperature_k) {
        return absl::InvalidArgumentError(
            absl::StrCat("rung ", k, ": temperature ", rung.temperature_k,
                         " K is below rung ", k - 1, "'s ", prev.temperature_k,
                         " K: list rungs in increasing temperature"));
      }
      if (rung.temperature_k == prev.temperature_k &&
          rung.pressure_bar == prev.pressure_bar &&
          rung.parameters == prev.parameters) {
        return absl::InvalidArgumentError(absl::StrCat(
            "rungs ", k - 1, " and ", k,
            " are identical: every rung needs its own temperature, pressure "
            "or parameter values"));
      }
      if (rung.parameters != rungs[0].parameters) {
        ladder.temperature_only_ = false;
      }
    }
    ladder.betas_.push_back(1.0 /
                            (kMolarGasConstantKJPerMolK * rung.temperature_k));
  }
  ladder.names_ = std::move(parameter_names);
  ladder.rungs_ = std::move(rungs);
  return ladder;
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
