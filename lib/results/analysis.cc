#include "lib/results/analysis.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/util/json_util.h"
#include "lib/exchange/ladder_tuning.h"
#include "lib/exchange/scheme.h"
#include "lib/spec/spec.h"
#include "lib/timing/duration.h"

namespace replex::results {
namespace {

// JSON has no NaN: unknown values are null.
google::protobuf::ListValue ListOf(const std::vector<double>& values) {
  google::protobuf::ListValue list;
  for (double x : values) {
    google::protobuf::Value& value = *list.add_values();
    if (std::isfinite(x)) {
      value.set_number_value(x);
    } else {
      value.set_null_value(google::protobuf::NULL_VALUE);
    }
  }
  return list;
}

// With `decimals` digits after the point; "-" when not finite.
std::string Fixed(double x, int decimals) {
  return std::isfinite(x) ? absl::StrFormat("%.*f", decimals, x) : "-";
}

// "300.0 K lambda=0.5", parameters in name order.
std::string RungLabel(const v1::Analysis& analysis, int k) {
  std::string label =
      k < analysis.temperatures_k_size()
          ? absl::StrFormat("%.1f K", analysis.temperatures_k(k))
          : "";
  std::vector<std::string> names;
  for (const auto& [name, values] : analysis.parameters()) {
    names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    const google::protobuf::ListValue& values = analysis.parameters().at(name);
    if (k < values.values_size()) {
      absl::StrAppendFormat(&label, " %s=%g", name,
                            values.values(k).number_value());
    }
  }
  return label;
}

// MBAR's table: f_k - f_0 and f_{k+1} - f_k with their errors, per rung.
std::string FreeEnergiesText(const v1::Analysis& analysis) {
  const v1::FreeEnergies& fe = analysis.free_energies();
  if (!fe.unavailable().empty()) {
    return absl::StrCat("free energies (MBAR): none: ", fe.unavailable(), "\n");
  }
  // Asynchronous exchange: each rung's series on its own
  // (FreeEnergiesByRung), so the fewest samples and the largest g.
  const bool by_rung = analysis.exchange_events() > 0;
  std::string text = absl::StrFormat(
      "free energies (MBAR, k_B T units): %s from %d, %s%d per rung "
      "(statistical inefficiency %s%.1f %s), overlap gap %.3f\n"
      "  %-4s %-28s %18s %18s\n",
      by_rung ? "exchange events" : "rounds", fe.equilibration_rounds(),
      by_rung ? "at least " : "", fe.samples_per_rung(),
      by_rung ? "up to " : "", fe.statistical_inefficiency(),
      by_rung ? "samples" : "rounds", fe.overlap_gap(), "rung", "", "f - f_0",
      "f - f_previous");
  for (int k = 0; k < fe.f_size() && k < fe.df_size(); ++k) {
    const std::string step =
        k > 0 && k - 1 < fe.df_neighbors_size()
            ? absl::StrFormat("%.3f +- %.3f", fe.f(k) - fe.f(k - 1),
                              fe.df_neighbors(k - 1))
            : "";
    absl::StrAppendFormat(
        &text, "  %-4d %-28s %18s %18s\n", k, RungLabel(analysis, k),
        absl::StrFormat("%.3f +- %.3f", fe.f(k), fe.df(k)), step);
  }
  return text;
}

}  // namespace

v1::Analysis MakeAnalysis(const v1::JobSpec& spec,
                          const exchange::Ladder& spec_ladder,
                          const std::vector<runner::LadderVersion>& versions,
                          const runner::RunResult& result,
                          const exchange::Statistics& statistics,
                          const std::string& job_id, const std::string& state) {
  absl::StatusOr<exchange::Ladder> adapted =
      versions.empty() ? spec_ladder
                       : runner::WithVersion(spec_ladder, versions.back());
  // A version is a valid ladder (the driver made it one); were it not, the
  // spec's rungs are the better label than none.
  const exchange::Ladder& ladder = adapted.ok() ? *adapted : spec_ladder;
  const int n = ladder.size();
  v1::Analysis analysis;
  analysis.set_state(state);
  analysis.set_job_id(job_id);
  analysis.set_name(spec.name());
  analysis.set_scheme(exchange::SchemeName(spec::SchemeOf(spec.exchange())));
  analysis.set_platform(spec.platform());
  analysis.set_seed(spec.seed());
  analysis.set_rounds(static_cast<int32_t>(result.rounds));
  analysis.set_exchange_events(result.exchange_events);
  analysis.mutable_segments_by_replica()->Assign(
      result.segments_by_replica.begin(), result.segments_by_replica.end());
  for (const runner::LadderVersion& version : versions) {
    v1::LadderVersion& out = *analysis.add_ladder_versions();
    out.set_from_round(static_cast<int32_t>(version.from_round));
    out.mutable_temperatures_k()->Assign(version.temperatures_k.begin(),
                                         version.temperatures_k.end());
    if (!version.fraction_up.empty()) {
      *out.mutable_fraction_up() = ListOf(version.fraction_up);
    }
    out.set_unchanged_because(version.unchanged_because);
    const std::vector<std::string>& names = spec_ladder.parameter_names();
    for (size_t p = 0; p < names.size(); ++p) {
      std::vector<double> values;
      for (const std::vector<double>& rung : version.parameters) {
        if (p < rung.size()) values.push_back(rung[p]);
      }
      (*out.mutable_parameters())[names[p]] = ListOf(values);
    }
    out.mutable_acceptance()->Assign(version.acceptance.begin(),
                                     version.acceptance.end());
  }
  analysis.set_n_rounds(spec.exchange().n_rounds());
  analysis.set_n_rungs(n);
  analysis.set_replicas(n);
  for (const exchange::Rung& rung : ladder.rungs()) {
    analysis.add_temperatures_k(rung.temperature_k);
  }
  for (size_t p = 0; p < ladder.parameter_names().size(); ++p) {
    std::vector<double> values;
    for (const exchange::Rung& rung : ladder.rungs()) {
      values.push_back(rung.parameters[p]);
    }
    (*analysis.mutable_parameters())[ladder.parameter_names()[p]] =
        ListOf(values);
  }
  const std::vector<exchange::Ladder::Pair>& pairs = ladder.pairs();
  for (size_t k = 0; k < pairs.size() && k < result.pair_attempts.size() &&
                     k < result.pair_acceptance.size();
       ++k) {
    v1::PairAnalysis& pair = *analysis.add_pairs();
    pair.add_rungs(pairs[k].lower);
    pair.add_rungs(pairs[k].upper);
    pair.set_axis(pairs[k].axis);
    pair.set_attempts(static_cast<double>(result.pair_attempts[k]));
    pair.set_accepts(static_cast<double>(result.pair_accepts[k]));
    if (std::isfinite(result.pair_acceptance[k])) {
      pair.set_acceptance(result.pair_acceptance[k]);
    }
  }
  if (ladder.axes() > 1) {
    for (int a = 0; a < ladder.axes(); ++a) {
      analysis.add_shape(ladder.shape()[a]);
      v1::AxisAnalysis& axis = *analysis.add_axes();
      axis.set_axis(a);
      axis.set_n_rungs(ladder.shape()[a]);
      if (a < static_cast<int>(statistics.axis_round_trips().size())) {
        axis.set_round_trips(
            static_cast<double>(statistics.axis_round_trips()[a]));
      }
    }
    for (const v1::PairAnalysis& pair : analysis.pairs()) {
      v1::AxisAnalysis& axis = *analysis.mutable_axes(pair.axis());
      axis.set_attempts(axis.attempts() + pair.attempts());
      axis.set_accepts(axis.accepts() + pair.accepts());
    }
    for (v1::AxisAnalysis& axis : *analysis.mutable_axes()) {
      if (axis.attempts() > 0) {
        axis.set_acceptance(axis.accepts() / axis.attempts());
      }
    }
  }
  // Fewer attempts than this make one pair's acceptance too rough a guide.
  // The suggestion is a temperature ladder's (a parameter ladder adapts
  // with ladder.adapt instead).
  constexpr int64_t kMinAttemptsToTune = 20;
  if (ladder.temperature_only() &&
      std::all_of(
          result.pair_attempts.begin(), result.pair_attempts.end(),
          [](int64_t attempts) { return attempts >= kMinAttemptsToTune; })) {
    if (absl::StatusOr<exchange::TunedLadder> tuned =
            exchange::EqualAcceptanceLadder(ladder, result.pair_acceptance);
        tuned.ok()) {
      v1::TunedLadder& out = *analysis.mutable_tuned_ladder();
      for (const exchange::Rung& rung : tuned->rungs) {
        out.add_temperatures_k(rung.temperature_k);
      }
      out.set_predicted_acceptance(tuned->predicted_acceptance);
    }
  }
  analysis.set_round_trips(static_cast<double>(result.round_trips));
  for (int64_t trips : statistics.round_trips_per_replica()) {
    analysis.add_round_trips_per_replica(static_cast<double>(trips));
  }
  if (std::isfinite(result.mean_round_trip_rounds)) {
    analysis.set_mean_round_trip_rounds(result.mean_round_trip_rounds);
  }
  if (std::isfinite(result.second_eigenvalue)) {
    analysis.set_second_eigenvalue(result.second_eigenvalue);
  }
  *analysis.mutable_fraction_up() = ListOf(result.fraction_up);
  if (n <= kMaxMatrixRungs) {
    for (const std::vector<double>& row : statistics.TransitionMatrix()) {
      *analysis.add_transition_matrix() = ListOf(row);
    }
  }
  const std::vector<int>& rungs = result.final_permutation.rung_of_replica();
  analysis.mutable_rung_of_replica()->Assign(rungs.begin(), rungs.end());
  analysis.set_wall_seconds(result.wall_seconds);
  analysis.set_simulated_ns(result.simulated_ns);
  analysis.set_ns_per_day(result.ns_per_day);
  return analysis;
}

std::string AnalysisJson(const v1::Analysis& analysis, bool indented) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  options.add_whitespace = indented;
  std::string json;
  // Printing a message of this build's own type cannot fail.
  (void)google::protobuf::util::MessageToJsonString(analysis, &json, options);
  return json;
}

absl::StatusOr<v1::Analysis> ParseAnalysis(absl::string_view json) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  v1::Analysis analysis;
  const auto status = google::protobuf::util::JsonStringToMessage(
      std::string(json), &analysis, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "analysis.json is not a replex analysis: ", status.ToString()));
  }
  return analysis;
}

std::string AnalysisText(const v1::Analysis& analysis) {
  std::string text = absl::StrFormat(
      "job %s%s: %s, %d/%d rounds, %d replicas, scheme %s, platform %s, seed "
      "%d\n",
      analysis.name().empty() ? "(unnamed)" : analysis.name(),
      analysis.job_id().empty() ? ""
                                : absl::StrCat(" (", analysis.job_id(), ")"),
      analysis.state(), analysis.rounds(), analysis.n_rounds(),
      analysis.replicas(), analysis.scheme(), analysis.platform(),
      analysis.seed());
  if (analysis.ladder_versions_size() > 1) {
    absl::StrAppendFormat(
        &text,
        "adaptive ladder: %d changes, the last at round %d; the figures "
        "below are of the ladder shown, from that round on\n",
        analysis.ladder_versions_size() - 1,
        analysis.ladder_versions().rbegin()->from_round());
    // A change that could not move the rungs: the first such, and how many.
    int unchanged = 0;
    const v1::LadderVersion* first = nullptr;
    for (const v1::LadderVersion& version : analysis.ladder_versions()) {
      if (version.unchanged_because().empty()) continue;
      if (unchanged++ == 0) first = &version;
    }
    if (first != nullptr) {
      absl::StrAppendFormat(
          &text,
          "  %d of them kept the ladder as it was; the first, measured on the "
          "version from round %d: %s\n",
          unchanged, first->from_round(), first->unchanged_because());
    }
  }
  if (analysis.exchange_events() > 0) {
    const auto [fewest, most] =
        std::minmax_element(analysis.segments_by_replica().begin(),
                            analysis.segments_by_replica().end());
    absl::StrAppendFormat(
        &text,
        "asynchronous exchange: %d events; segments per replica %d to %d; "
        "round trips are timed in events\n",
        analysis.exchange_events(),
        fewest == analysis.segments_by_replica().end() ? 0 : *fewest,
        most == analysis.segments_by_replica().end() ? 0 : *most);
  }
  if (analysis.pairs_size() > 0) {
    absl::StrAppendFormat(&text, "  %-6s %-44s %9s %9s %10s\n", "pair", "rungs",
                          "attempts", "accepts", "acceptance");
    for (const v1::PairAnalysis& pair : analysis.pairs()) {
      const int k = pair.rungs_size() > 0 ? pair.rungs(0) : 0;
      const int upper = pair.rungs_size() > 1 ? pair.rungs(1) : k + 1;
      absl::StrAppendFormat(
          &text, "  %-6s %-44s %9.0f %9.0f %10s\n", absl::StrCat(k, "-", upper),
          absl::StrCat(RungLabel(analysis, k), " <-> ",
                       RungLabel(analysis, upper)),
          pair.attempts(), pair.accepts(),
          pair.has_acceptance() ? absl::StrFormat("%.3f", pair.acceptance())
                                : "-");
    }
  }
  for (const v1::AxisAnalysis& axis : analysis.axes()) {
    absl::StrAppendFormat(
        &text,
        "axis %d (%d rungs): %.0f attempts, acceptance %s, round trips %.0f\n",
        axis.axis(), axis.n_rungs(), axis.attempts(),
        axis.has_acceptance() ? absl::StrFormat("%.3f", axis.acceptance())
                              : "-",
        axis.round_trips());
  }
  if (analysis.has_tuned_ladder()) {
    std::vector<std::string> temperatures;
    for (double t : analysis.tuned_ladder().temperatures_k()) {
      temperatures.push_back(absl::StrFormat("%.1f", t));
    }
    absl::StrAppendFormat(
        &text,
        "temperatures for equal acceptance (about %.2f per pair): %s K\n",
        analysis.tuned_ladder().predicted_acceptance(),
        absl::StrJoin(temperatures, " "));
  }
  absl::StrAppendFormat(&text, "round trips: %.0f", analysis.round_trips());
  if (analysis.has_mean_round_trip_rounds()) {
    absl::StrAppendFormat(&text, " (mean %.1f %s each)",
                          analysis.mean_round_trip_rounds(),
                          analysis.exchange_events() > 0 ? "events" : "rounds");
  }
  absl::StrAppend(&text, "\nsecond eigenvalue of the rung transition matrix: ",
                  analysis.has_second_eigenvalue()
                      ? Fixed(analysis.second_eigenvalue(), 4)
                      : "-",
                  "\n");
  if (analysis.has_free_energies()) {
    absl::StrAppend(&text, FreeEnergiesText(analysis));
  }
  absl::StrAppendFormat(
      &text, "simulated %.4g ns in %s wall: %s ns/day aggregate\n",
      analysis.simulated_ns(), timing::FormatDuration(analysis.wall_seconds()),
      Fixed(analysis.ns_per_day(), 1));
  absl::StrAppend(&text, "rung of each replica: ",
                  absl::StrJoin(analysis.rung_of_replica(), " "), "\n");
  return text;
}

}  // namespace replex::results
