// Ladder expansion: turns the ladder of a job spec (explicit lists, ranges or
// one temperature, plus named parameters) into an exchange::Ladder, with
// errors naming the YAML path of the field at fault (see spec.h).
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
constexpr int kMaxAxes = 8;

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

// The rung count of the ladder (or grid axis) at path `at`: its n_rungs,
// else the length of the first explicit list. Sets `source` to the field it
// came from, for messages.
absl::StatusOr<int> RungCount(const v1::Ladder& ladder, const std::string& at,
                              std::string& source) {
  source = Join(at, "n_rungs");
  int n = ladder.n_rungs();
  if (n == 0 && ladder.temperatures_k_size() > 0) {
    source = Join(at, "temperatures_k");
    n = ladder.temperatures_k_size();
  }
  for (int i = 0; n == 0 && i < ladder.parameters_size(); ++i) {
    if (ladder.parameters(i).values_size() > 0) {
      source = Join(Index(Join(at, "parameters"), i), "values");
      n = ladder.parameters(i).values_size();
    }
  }
  if (n == 0 && ladder.pressures_bar_size() > 0) {
    source = Join(at, "pressures_bar");
    n = ladder.pressures_bar_size();
  }
  if (n == 0) {
    return FieldError(source, absl::StrCat(TooFewRungs(0), "; set ", source,
                                           ": it is "
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
                                                 const std::string& at, int n) {
  std::vector<std::string> forms;
  if (ladder.temperatures_k_size() > 0) forms.push_back("temperatures_k");
  if (ladder.has_temperature_range_k()) forms.push_back("temperature_range_k");
  if (ladder.temperature_k() != 0) forms.push_back("temperature_k");
  if (forms.size() != 1) {
    return FieldError(
        at,
        absl::StrCat(
            forms.empty() ? "no temperature given"
                          : absl::StrCat(absl::StrJoin(forms, " and "),
                                         forms.size() == 2 ? " are both given"
                                                           : " are all given"),
            at == "ladder" ? "; give exactly one of temperatures_k (one per "
                             "rung), temperature_range_k (min and max spread "
                             "over n_rungs) or temperature_k (the same for "
                             "every rung)"
                           : "; give one of temperatures_k (one per rung) or "
                             "temperature_range_k (min and max spread over "
                             "n_rungs)"));
  }
  if (ladder.temperatures_k_size() > 0) {
    for (absl::Status status :
         {CheckLength(ladder.temperatures_k_size(), n,
                      Join(at, "temperatures_k"), Join(at, "n_rungs")),
          CheckEach(ladder.temperatures_k(), Join(at, "temperatures_k"),
                    CheckTemperature)}) {
      if (!status.ok()) return status;
    }
    return std::vector<double>(ladder.temperatures_k().begin(),
                               ladder.temperatures_k().end());
  }
  if (ladder.has_temperature_range_k()) {
    return ExpandRange(ladder.temperature_range_k(),
                       Join(at, "temperature_range_k"), n, Range::GEOMETRIC,
                       CheckTemperature);
  }
  absl::Status status =
      CheckTemperature(ladder.temperature_k(), Join(at, "temperature_k"));
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

// Parameter names seen so far, each with the field that gave it.
using NamesSeen = std::vector<std::pair<std::string, std::string>>;

// `name`, given at `path`, is not among `seen`; records it there as given by
// `seen_as`.
absl::Status CheckNameUnused(const std::string& name, const std::string& path,
                             const std::string& seen_as, NamesSeen& seen) {
  for (const auto& [other, other_path] : seen) {
    if (other == name) {
      return FieldError(
          path, absl::StrCat(Quote(name), " is already used by ", other_path,
                             "; list each parameter once"));
    }
  }
  seen.emplace_back(name, seen_as);
  return absl::OkStatus();
}

// A ladder's rungs before exchange::Ladder checks them as a whole.
struct Rungs {
  std::vector<std::string> names;
  std::vector<exchange::Rung> rungs;
  bool has_temperature = false;  // else every temperature_k is 0
};

bool GivesTemperature(const v1::Ladder& ladder) {
  return ladder.temperatures_k_size() > 0 || ladder.has_temperature_range_k() ||
         ladder.temperature_k() != 0;
}

// The rungs of the ordinary ladder, or of one grid axis, at path `at`. A grid
// axis may leave the temperature to another axis or to ladder.temperature_k.
absl::StatusOr<Rungs> BuildRungs(const v1::Ladder& ladder,
                                 const std::string& at, bool is_axis) {
  std::string n_source;
  absl::StatusOr<int> n = RungCount(ladder, at, n_source);
  if (!n.ok()) return n.status();
  const std::string parameters_path = Join(at, "parameters");
  absl::Status status = AtMost(ladder.parameters_size(), kMaxParameters,
                               parameters_path, "parameters per ladder");
  if (!status.ok()) return status;

  Rungs out;
  NamesSeen seen;
  out.rungs.resize(*n);
  out.has_temperature = !is_axis || GivesTemperature(ladder);
  if (out.has_temperature) {
    absl::StatusOr<std::vector<double>> temperatures =
        Temperatures(ladder, at, *n);
    if (!temperatures.ok()) return temperatures.status();
    for (int k = 0; k < *n; ++k) {
      out.rungs[k].temperature_k = (*temperatures)[k];
    }
  }
  for (int i = 0; i < ladder.parameters_size(); ++i) {
    const v1::ParameterLadder& parameter = ladder.parameters(i);
    const std::string path = Index(parameters_path, i);
    if (parameter.name().empty()) {
      return FieldError(Join(path, "name"),
                        "empty; give the name of a global parameter defined "
                        "in the System (e.g. lambda)");
    }
    if (absl::Status unused =
            CheckNameUnused(parameter.name(), Join(path, "name"), path, seen);
        !unused.ok()) {
      return unused;
    }
    out.names.push_back(parameter.name());
    absl::StatusOr<std::vector<double>> values =
        ParameterValues(parameter, path, *n, n_source);
    if (!values.ok()) return values.status();
    for (int k = 0; k < *n; ++k) {
      out.rungs[k].parameters.push_back((*values)[k]);
    }
  }
  if (ladder.pressures_bar_size() > 0) {
    const std::string path = Join(at, "pressures_bar");
    for (absl::Status check :
         {CheckLength(ladder.pressures_bar_size(), *n, path, n_source),
          CheckEach(ladder.pressures_bar(), path, CheckPressure)}) {
      if (!check.ok()) return check;
    }
    for (int k = 0; k < *n; ++k) {
      out.rungs[k].pressure_bar = ladder.pressures_bar(k);
    }
  }
  return out;
}

// A grid's rungs are every combination of its axes' rungs, the last axis
// varying fastest; each takes its temperature from the one axis that gives
// temperatures (or ladder.temperature_k) and every axis's parameters.
absl::StatusOr<exchange::Ladder> BuildGrid(const v1::Ladder& ladder) {
  const char* const kOnAnAxis =
      "; with ladder.axes, give it on one of the axes";
  if (ladder.n_rungs() != 0) {
    return FieldError("ladder.n_rungs",
                      absl::StrCat("set with ladder.axes: a grid's rungs are "
                                   "the product of its axes' n_rungs",
                                   kOnAnAxis));
  }
  for (const auto& [given, field] :
       {std::pair<bool, const char*>{ladder.temperatures_k_size() > 0,
                                     "ladder.temperatures_k"},
        {ladder.has_temperature_range_k(), "ladder.temperature_range_k"},
        {ladder.parameters_size() > 0, "ladder.parameters"}}) {
    if (given) {
      return FieldError(field, absl::StrCat("set with ladder.axes", kOnAnAxis));
    }
  }
  if (ladder.pressures_bar_size() > 0) {
    return FieldError("ladder.pressures_bar",
                      "per-rung pressures are not supported on a grid "
                      "ladder; run at the System's barostat pressure or use "
                      "an ordinary ladder");
  }
  if (ladder.axes_size() < 2) {
    return FieldError("ladder.axes",
                      "one axis is an ordinary ladder: give its fields "
                      "directly under ladder, or add a second axis");
  }
  absl::Status status =
      AtMost(ladder.axes_size(), kMaxAxes, "ladder.axes", "axes per grid");
  if (!status.ok()) return status;

  std::vector<Rungs> axes;
  std::vector<int> shape;
  std::vector<std::string> names;
  NamesSeen seen;  // across the axes
  int temperature_axis = -1;
  int64_t total = 1;
  for (int a = 0; a < ladder.axes_size(); ++a) {
    const v1::Ladder& axis = ladder.axes(a);
    const std::string at = Index("ladder.axes", a);
    if (axis.axes_size() > 0) {
      return FieldError(Join(at, "axes"),
                        "an axis cannot itself be a grid; list every axis "
                        "under ladder.axes");
    }
    if (axis.pressures_bar_size() > 0) {
      return FieldError(Join(at, "pressures_bar"),
                        "per-rung pressures are not supported on a grid "
                        "ladder; run at the System's barostat pressure");
    }
    if (axis.has_adapt()) {
      return FieldError(Join(at, "adapt"),
                        "adapt belongs to the whole grid, not to an axis: "
                        "move it to ladder.adapt");
    }
    if (axis.temperature_k() != 0) {
      return FieldError(Join(at, "temperature_k"),
                        "one temperature for every rung belongs in "
                        "ladder.temperature_k; an axis gives temperatures_k "
                        "or temperature_range_k");
    }
    absl::StatusOr<Rungs> rungs = BuildRungs(axis, at, /*is_axis=*/true);
    if (!rungs.ok()) return rungs.status();
    const int n = static_cast<int>(rungs->rungs.size());
    if (n < 2) {
      return FieldError(at, absl::StrCat("1 rung: an axis needs at least 2 "
                                         "(drop it and fold its values into "
                                         "the other axes)"));
    }
    total *= n;
    if (absl::Status check = AtMost(total, kMaxRungs, "ladder.axes",
                                    "rungs per job (the product of the axes' "
                                    "rungs); split the work into several jobs");
        !check.ok()) {
      return check;
    }
    if (rungs->has_temperature) {
      if (temperature_axis >= 0) {
        return FieldError(at,
                          absl::StrCat("gives temperatures, as ",
                                       Index("ladder.axes", temperature_axis),
                                       " does; give them on one axis only"));
      }
      temperature_axis = a;
    }
    for (size_t p = 0; p < rungs->names.size(); ++p) {
      const std::string path =
          Join(Index(Join(at, "parameters"), static_cast<int>(p)), "name");
      if (absl::Status unused =
              CheckNameUnused(rungs->names[p], path, path, seen);
          !unused.ok()) {
        return unused;
      }
      names.push_back(rungs->names[p]);
    }
    shape.push_back(n);
    axes.push_back(*std::move(rungs));
  }
  if ((temperature_axis >= 0) == (ladder.temperature_k() != 0)) {
    return FieldError(
        "ladder", temperature_axis >= 0
                      ? absl::StrCat("temperature_k and ",
                                     Index("ladder.axes", temperature_axis),
                                     "'s temperatures are both given; give one")
                      : "no temperature given: give ladder.temperature_k, or "
                        "temperatures_k or temperature_range_k on one axis");
  }
  if (temperature_axis < 0) {
    status = CheckTemperature(ladder.temperature_k(), "ladder.temperature_k");
    if (!status.ok()) return status;
  }

  std::vector<exchange::Rung> rungs(total);
  std::vector<int> at(shape.size());  // rung k's coordinates
  for (int k = 0; k < total; ++k) {
    exchange::Rung& rung = rungs[k];
    rung.temperature_k = ladder.temperature_k();
    int rest = k;
    for (int a = static_cast<int>(shape.size()) - 1; a >= 0; --a) {
      at[a] = rest % shape[a];
      rest /= shape[a];
    }
    for (size_t a = 0; a < shape.size(); ++a) {
      const exchange::Rung& from = axes[a].rungs[at[a]];
      if (static_cast<int>(a) == temperature_axis) {
        rung.temperature_k = from.temperature_k;
      }
      rung.parameters.insert(rung.parameters.end(), from.parameters.begin(),
                             from.parameters.end());
    }
  }
  absl::StatusOr<exchange::Ladder> built = exchange::Ladder::Create(
      std::move(names), std::move(rungs), std::move(shape));
  if (!built.ok()) return FieldError("ladder.axes", built.status().message());
  return built;
}

}  // namespace

absl::StatusOr<exchange::Ladder> BuildLadder(const v1::Ladder& ladder) {
  if (ladder.axes_size() > 0) return BuildGrid(ladder);
  absl::StatusOr<Rungs> rungs = BuildRungs(ladder, "ladder", /*is_axis=*/false);
  if (!rungs.ok()) return rungs.status();
  absl::StatusOr<exchange::Ladder> built = exchange::Ladder::Create(
      std::move(rungs->names), std::move(rungs->rungs));
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
