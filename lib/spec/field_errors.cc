// The error vocabulary shared by the YAML reader, ladder expansion and
// Validate (see field_errors.h).
#include "lib/spec/field_errors.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "lib/spec/spec.h"

namespace replex::spec::internal {
namespace {

// OpenMM's platform names, spelled as Platform::getPlatformByName wants them.
const std::vector<std::string>& Platforms() {
  static const auto* platforms =
      new std::vector<std::string>{"Reference", "CPU", "OpenCL", "CUDA"};
  return *platforms;
}

// Levenshtein distance ignoring case, for "did you mean" hints.
int EditDistance(absl::string_view a, absl::string_view b) {
  std::vector<int> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = static_cast<int>(j);
  for (size_t i = 1; i <= a.size(); ++i) {
    int diagonal = row[0];
    row[0] = static_cast<int>(i);
    for (size_t j = 1; j <= b.size(); ++j) {
      const int above = row[j];
      const bool same =
          absl::ascii_tolower(a[i - 1]) == absl::ascii_tolower(b[j - 1]);
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + !same});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

const EnumNames<v1::Exchange::Scheme>& SchemeNames() {
  static const auto* names = new EnumNames<v1::Exchange::Scheme>{
      {"neighbors", v1::Exchange::NEIGHBORS},
      {"gibbs", v1::Exchange::GIBBS},
      {"none", v1::Exchange::NONE}};
  return *names;
}

const EnumNames<v1::Range::Spacing>& SpacingNames() {
  static const auto* names = new EnumNames<v1::Range::Spacing>{
      {"geometric", v1::Range::GEOMETRIC}, {"linear", v1::Range::LINEAR}};
  return *names;
}

const EnumNames<v1::LadderAdaptation::Target>& AdaptTargetNames() {
  static const auto* names = new EnumNames<v1::LadderAdaptation::Target>{
      {"equal_acceptance", v1::LadderAdaptation::EQUAL_ACCEPTANCE},
      {"round_trips", v1::LadderAdaptation::ROUND_TRIPS}};
  return *names;
}

const EnumNames<v1::Exchange::Mode>& ModeNames() {
  static const auto* names = new EnumNames<v1::Exchange::Mode>{
      {"synchronous", v1::Exchange::SYNCHRONOUS},
      {"asynchronous", v1::Exchange::ASYNCHRONOUS}};
  return *names;
}

std::string Join(absl::string_view path, absl::string_view key) {
  return path.empty() ? std::string(key) : absl::StrCat(path, ".", key);
}

std::string Index(absl::string_view path, int i) {
  return absl::StrCat(path, "[", i, "]");
}

absl::Status FieldError(absl::string_view path, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", problem));
}

std::string DidYouMean(absl::string_view given,
                       const std::vector<std::string>& known) {
  const std::string* best = nullptr;
  int best_distance = 0;
  for (const std::string& candidate : known) {
    const int distance = EditDistance(given, candidate);
    if (best == nullptr || distance < best_distance) {
      best = &candidate;
      best_distance = distance;
    }
  }
  if (best == nullptr ||
      best_distance > std::max<int>(2, static_cast<int>(best->size()) / 3)) {
    return "";
  }
  return absl::StrCat(" (did you mean \"", *best, "\"?)");
}

std::string Quote(absl::string_view text) {
  constexpr size_t kMaxShown = 60;
  if (text.size() <= kMaxShown) {
    return absl::StrCat("\"", absl::CHexEscape(text), "\"");
  }
  return absl::StrCat("\"", absl::CHexEscape(text.substr(0, kMaxShown)),
                      "...\"");
}

absl::Status UnknownName(absl::string_view path, absl::string_view what,
                         absl::string_view name,
                         const std::vector<std::string>& valid,
                         absl::string_view note) {
  return FieldError(
      path, absl::StrCat(Quote(name), " is not ", what, DidYouMean(name, valid),
                         "; use one of ", absl::StrJoin(valid, ", "), note));
}

absl::Status AtLeast(int64_t value, int64_t min, absl::string_view path,
                     absl::string_view meaning) {
  if (value >= min) return absl::OkStatus();
  return FieldError(path, absl::StrCat("is ", value, "; it must be at least ",
                                       min, " (", meaning, ")"));
}

absl::Status AtMost(int64_t value, int64_t max, absl::string_view path,
                    absl::string_view meaning) {
  if (value <= max) return absl::OkStatus();
  return FieldError(path, absl::StrCat("is ", value, ", above the limit of ",
                                       max, " (", meaning, ")"));
}

std::string TooFewRungs(int64_t n) {
  return absl::StrCat(n,
                      " replicas requested; a job needs at least 1 rung (one "
                      "replica per rung)");
}

absl::Status CheckRungCount(int64_t n, absl::string_view path) {
  if (n >= 1) return absl::OkStatus();
  return FieldError(
      path, absl::StrCat(TooFewRungs(n), "; set it to the number of replicas"));
}

absl::Status CheckTemperature(double kelvin, absl::string_view path) {
  if (std::isfinite(kelvin) && kelvin > 0) return absl::OkStatus();
  return FieldError(path, absl::StrCat(kelvin,
                                       " K is not a temperature; give a finite "
                                       "number of kelvin above 0"));
}

absl::Status CheckTimestep(double ps, absl::string_view path) {
  if (std::isfinite(ps) && ps > 0) return absl::OkStatus();
  return FieldError(path, absl::StrCat(ps,
                                       " ps is not a timestep; give a finite "
                                       "value above 0 (default ",
                                       kDefaultTimestepPs, " ps)"));
}

absl::Status CheckFriction(double per_ps, absl::string_view path) {
  if (std::isfinite(per_ps) && per_ps >= 0) return absl::OkStatus();
  return FieldError(path, absl::StrCat(per_ps,
                                       "/ps is not a collision rate; give a "
                                       "finite value >= 0 (default ",
                                       kDefaultFrictionPerPs, "/ps)"));
}

absl::Status CheckPlatform(const std::string& name, absl::string_view path) {
  const std::vector<std::string>& platforms = Platforms();
  if (std::find(platforms.begin(), platforms.end(), name) != platforms.end()) {
    return absl::OkStatus();
  }
  return UnknownName(path, "an OpenMM platform", name, platforms,
                     " (case-sensitive, as OpenMM names them)");
}

}  // namespace replex::spec::internal
