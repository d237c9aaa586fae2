// The error vocabulary of the job spec, shared by the YAML reader, ladder
// expansion and Validate so that a problem reads the same whichever of them
// catches it. Every error is INVALID_ARGUMENT and starts with the field's YAML
// path, because that is what a user edits, whichever way the spec arrived.
// Internal to replex::spec; callers use spec.h.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "replex/v1/job.pb.h"

namespace replex::spec::internal {

// The YAML spellings of the proto enums; the first spacing/scheme listed is
// not necessarily the default (see ApplyDefaults).
template <typename Enum>
using EnumNames = std::vector<std::pair<std::string, Enum>>;

const EnumNames<v1::Exchange::Scheme>& SchemeNames();
const EnumNames<v1::Range::Spacing>& SpacingNames();
const EnumNames<v1::LadderAdaptation::Target>& AdaptTargetNames();
const EnumNames<v1::Exchange::Mode>& ModeNames();

template <typename Enum>
std::vector<std::string> NamesOf(const EnumNames<Enum>& names) {
  std::vector<std::string> out;
  for (const auto& [name, value] : names) out.push_back(name);
  return out;
}

// "path.key", or "key" at the top level (empty `path`).
std::string Join(absl::string_view path, absl::string_view key);

// "path[i]".
std::string Index(absl::string_view path, int i);

// INVALID_ARGUMENT "<path>: <problem>".
absl::Status FieldError(absl::string_view path, absl::string_view problem);

// " (did you mean "x"?)" when one of `known` is a plausible typo of `given`,
// else "".
std::string DidYouMean(absl::string_view given,
                       const std::vector<std::string>& known);

// `text` quoted for a message, shortened so a pasted blob cannot flood it.
std::string Quote(absl::string_view text);

// "<path>: <name> is not one of a, b, c (did you mean ...?)".
absl::Status UnknownName(absl::string_view path, absl::string_view what,
                         absl::string_view name,
                         const std::vector<std::string>& valid,
                         absl::string_view note = "");

// Bounds on an integer field; `meaning` says what the number counts.
absl::Status AtLeast(int64_t value, int64_t min, absl::string_view path,
                     absl::string_view meaning);
absl::Status AtMost(int64_t value, int64_t max, absl::string_view path,
                    absl::string_view meaning);

// The start of every "not enough rungs" message.
std::string TooFewRungs(int64_t n);

// Checks of single values, each OK or an error at `path` saying what to give.
// The YAML reader applies them as it reads, so that their errors carry the
// line and column, and because some values it stored as 0 would read as
// "unset" afterwards; Validate applies them to specs from any source.
absl::Status CheckRungCount(int64_t n, absl::string_view path);
absl::Status CheckTemperature(double kelvin, absl::string_view path);
absl::Status CheckTimestep(double ps, absl::string_view path);
absl::Status CheckFriction(double per_ps, absl::string_view path);
// One of OpenMM's platform names, case-sensitive.
absl::Status CheckPlatform(const std::string& name, absl::string_view path);

}  // namespace replex::spec::internal
