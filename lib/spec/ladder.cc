// Ladder expansion: turns the ladder of a job spec (explicit lists, ranges or
// one temperature, plus named parameters) into an exchange::Ladder, with
// errors naming the YAML path of the field at fault (see spec.h).
#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "lib/spec/field_errors.h"
#include "lib/spec/spec.h"

namespace replex::spec {
namespace {

using internal::AtMost;
using internal::CheckRungCount;
using internal::CheckTemperature;
using internal::FieldError;
using internal::Index;
using internal::Join;
using internal::NamesOf;
using internal::Quote;
using internal::SpacingNames;
using internal::TooFewRungs;
using v1::Range;

// Limits that keep a mistaken or hostile spec from exhausting the
// coordinator's memory or time; far above any real job (tens to hundreds of
// rungs, a handful of parameters).
// The coordinator keeps O(rungs^2) statistics per job (the transition
// counts), so the cap bounds its memory: 4096 rungs is 128 MiB.
constexpr int kMaxRungs = 4096;
constexpr int kMaxParameters = 64;

absl::Status CheckFinite(double value, absl::string_view path) {
  if (std::isfinite(value)) return absl::OkStatus();
  return FieldError(path,
                    absl::StrCat(value, " is not a finite number; give one"));
}

// `size` values were given where the ladder has `n` rungs.
absl::Status CheckLength(int size, int n, absl::string_view path,
                         absl::string_view n_source) {
  if (size == n) return absl::OkStatus();
  return FieldError(path, absl::StrCat(size, " values for ", n,
                                       " rungs (the rung count comes from ",
                                       n_source, "); give one value per rung"));
}

// Checks every value of a list with `check` (CheckFinite, CheckTemperature).
absl::Status CheckEach(const google::protobuf::RepeatedField<double>& values,
                       absl::string_view path,
                       absl::Status (*check)(double, absl::string_view)) {
  for (int i = 0; i < values.size(); ++i) {
    absl::Status status = check(values[i], Index(path, i));
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

// Spreads a range over n rungs. `check` applies to min and max; an
// unspecified spacing means `default_spacing`.
absl::StatusOr<std::vector<double>> ExpandRange(
    const Range& range, const std::string& path, int n,
    Range::Spacing default_spacing,
    absl::Status (*check)(double, absl::string_view)) {
  for (absl::Status status : {check(range.min(), Join(path, "min")),
                              check(range.max(), Join(path, "max"))}) {
    if (!status.ok()) return status;
  }
  if (range.max() < range.min()) {
    return FieldError(
        path, absl::StrCat("max ", range.max(), " is below min ", range.min(),
                           "; give min <= max (list the values "
                           "explicitly for a decreasing ladder)"));
  }
  const Range::Spacing spacing = range.spacing() == Range::SPACING_UNSPECIFIED
                                     ? default_spacing
                                     : range.spacing();
  switch (spacing) {
    case Range::GEOMETRIC:
      if (range.min() <= 0) {
        return FieldError(Join(path, "min"),
                          absl::StrCat(range.min(),
                                       ": geometric spacing needs min > 0; "
                                       "give a positive min or spacing: "
                                       "linear"));
      }
      return exchange::Ladder::Geometric(range.min(), range.max(), n);
    case Range::LINEAR:
      return exchange::Ladder::Linear(range.min(), range.max(), n);
    default:
      return FieldError(
          Join(path, "spacing"),
          absl::StrCat("unknown spacing value ", static_cast<int>(spacing),
                       "; use one of ",
                       absl::StrJoin(NamesOf(SpacingNames()), ", ")));
  }
}

// The rung count: ladder.n_rungs, else the length of the first explicit list.
// Sets `source` to the field it came from, for messages.
absl::StatusOr<int> RungCount(const v1::Ladder& ladder, std::string& source) {
  source = "ladder.n_rungs";
  int n = ladder.n_rungs();
  if (n == 0 && ladder.temperatures_k_size() > 0) {
    source = "ladder.temperatures_k";
    n = ladder.temperatures_k_size();
  }
  for (int i = 0; n == 0 && i < ladder.parameters_size(); ++i) {
    if (ladder.parameters(i).values_size() > 0) {
      source = Join(Index("ladder.parameters", i), "values");
      n = ladder.parameters(i).values_size();
    }
  }
  if (n == 0 && ladder.pressures_bar_size() > 0) {
    source = "ladder.pressures_bar";
    n = ladder.pressures_bar_size();
  }
  if (n == 0) {
    return FieldError(source, absl::StrCat(TooFewRungs(0),
                                           "; set ladder.n_rungs: it is "
                                           "required unless temperatures_k, "
                                           "pressures_bar or "
                                           "a parameter's values list one "
                                           "value per rung"));
  }
  for (absl::Status status :
       {CheckRungCount(n, source),
        AtMost(n, kMaxRungs, source,
               "rungs per job; split the work into several jobs")}) {
    if (!status.ok()) return status;
  }
  return n;
}

absl::StatusOr<std::vector<double>> Temperatures(const v1::Ladder& ladder,
                                                 int n) {
  std::vector<std::string> forms;
  if (ladder.temperatures_k_size() > 0) forms.push_back("temperatures_k");
  if (ladder.has_temperature_range_k()) forms.push_back("temperature_range_k");
  if (ladder.temperature_k() != 0) forms.push_back("temperature_k");
  if (forms.size() != 1) {
    return FieldError(
        "ladder",
        absl::StrCat(forms.empty()
                         ? "no temperature given"
                         : absl::StrCat(absl::StrJoin(forms, " and "),
                                        forms.size() == 2 ? " are both given"
                                                          : " are all given"),
                     "; give exactly one of temperatures_k (one per rung), "
                     "temperature_range_k (min and max spread over n_rungs) "
                     "or temperature_k (the same for every rung)"));
  }
  if (ladder.temperatures_k_size() > 0) {
    for (absl::Status status :
         {CheckLength(ladder.temperatures_k_size(), n, "ladder.temperatures_k",
                      "ladder.n_rungs"),
          CheckEach(ladder.temperatures_k(), "ladder.temperatures_k",
                    CheckTemperature)}) {
      if (!status.ok()) return status;
    }
    return std::vector<double>(ladder.temperatures_k().begin(),
                               ladder.temperatures_k().end());
  }
  if (ladder.has_temperature_range_k()) {
    return ExpandRange(ladder.temperature_range_k(),
                       "ladder.temperature_range_k", n, Range::GEOMETRIC,
                       CheckTemperature);
  }
  absl::Status status =
      CheckTemperature(ladder.temperature_k(), "ladder.temperature_k");
  if (!status.ok()) return status;
  return std::vector<double>(n, ladder.temperature_k());
}

// One parameter's value per rung.
absl::StatusOr<std::vector<double>> ParameterValues(
    const v1::ParameterLadder& parameter, const std::string& path, int n,
    absl::string_view n_source) {
  const bool has_values = parameter.values_size() > 0;
  if (has_values == parameter.has_range()) {
    return FieldError(path, has_values
                                ? "both values and range are given; give one"
                                : "no values: give values (one per rung) or "
                                  "range {min, max}");
  }
  if (has_values) {
    const std::string values_path = Join(path, "values");
    for (absl::Status status :
         {CheckLength(parameter.values_size(), n, values_path, n_source),
          CheckEach(parameter.values(), values_path, CheckFinite)}) {
      if (!status.ok()) return status;
    }
    return std::vector<double>(parameter.values().begin(),
                               parameter.values().end());
  }
  return ExpandRange(parameter.range(), Join(path, "range"), n, Range::LINEAR,
                     CheckFinite);
}

absl::Status CheckPressure(double bar, absl::string_view path) {
  if (std::isfinite(bar) && bar > 0) return absl::OkStatus();
  return FieldError(path, absl::StrCat(bar,
                                       " bar is not a pressure; give a finite "
                                       "number of bar above 0 (1.01325 is 1 "
                                       "atm)"));
}

}  // namespace

absl::StatusOr<exchange::Ladder> BuildLadder(const v1::Ladder& ladder) {
  std::string n_source;
  absl::StatusOr<int> n = RungCount(ladder, n_source);
  if (!n.ok()) return n.status();
  absl::Status status = AtMost(ladder.parameters_size(), kMaxParameters,
                               "ladder.parameters", "parameters per ladder");
  if (!status.ok()) return status;

  absl::StatusOr<std::vector<double>> temperatures = Temperatures(ladder, *n);
  if (!temperatures.ok()) return temperatures.status();
  std::vector<exchange::Rung> rungs(*n);
  for (int k = 0; k < *n; ++k) rungs[k].temperature_k = (*temperatures)[k];

  std::vector<std::string> names;
  for (int i = 0; i < ladder.parameters_size(); ++i) {
    const v1::ParameterLadder& parameter = ladder.parameters(i);
    const std::string path = Index("ladder.parameters", i);
    if (parameter.name().empty()) {
      return FieldError(Join(path, "name"),
                        "empty; give the name of a global parameter defined "
                        "in the System (e.g. lambda)");
    }
    const auto same = std::find(names.begin(), names.end(), parameter.name());
    if (same != names.end()) {
      return FieldError(
          Join(path, "name"),
          absl::StrCat(Quote(parameter.name()), " is already used by ",
                       Index("ladder.parameters", same - names.begin()),
                       "; list each parameter once"));
    }
    names.push_back(parameter.name());
    absl::StatusOr<std::vector<double>> values =
        ParameterValues(parameter, path, *n, n_source);
    if (!values.ok()) return values.status();
    for (int k = 0; k < *n; ++k) rungs[k].parameters.push_back((*values)[k]);
  }
  if (ladder.pressures_bar_size() > 0) {
    for (absl::Status check :
         {CheckLength(ladder.pressures_bar_size(), *n, "ladder.pressures_bar",
                      n_source),
          CheckEach(ladder.pressures_bar(), "ladder.pressures_bar",
                    CheckPressure)}) {
      if (!check.ok()) return check;
    }
    for (int k = 0; k < *n; ++k)
      rungs[k].pressure_bar = ladder.pressures_bar(k);
  }

  absl::StatusOr<exchange::Ladder> built =
      exchange::Ladder::Create(std::move(names), std::move(rungs));
  if (!built.ok()) {
    // Create speaks of rungs; with an explicit list, rung k is
    // temperatures_k[k], so name that field.
    return FieldError(
        ladder.temperatures_k_size() > 0 ? "ladder.temperatures_k" : "ladder",
        built.status().message());
  }
  return built;
}

}  // namespace replex::spec
