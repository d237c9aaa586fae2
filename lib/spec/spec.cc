// The job spec's YAML form, its defaults and its validation (see spec.h and
// docs/job-spec.md). Every error names the field by its YAML path, because
// that is what a user edits, whichever way the spec arrived.
#include "lib/spec/spec.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <map>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "lib/xml/xml.h"
#include "yaml-cpp/yaml.h"

namespace replex::spec {
namespace {

using v1::JobSpec;
using v1::Range;

// Limits that keep a mistaken or hostile spec from exhausting the
// coordinator's memory or time; far above any real job (tens to hundreds of
// rungs, a handful of parameters).
// The coordinator keeps O(rungs^2) statistics per job (the transition
// counts), so the cap bounds its memory: 4096 rungs is 128 MiB.
constexpr int kMaxRungs = 4096;
constexpr int kMaxParameters = 64;
constexpr int64_t kMaxSwapAttempts = 1000000000;

// OpenMM's platform names, spelled as Platform::getPlatformByName wants them.
const std::vector<std::string>& Platforms() {
  static const auto* platforms =
      new std::vector<std::string>{"Reference", "CPU", "OpenCL", "CUDA"};
  return *platforms;
}

// The YAML spellings of the proto enums; the first spacing/scheme listed is
// not necessarily the default (see ApplyDefaults).
template <typename Enum>
using EnumNames = std::vector<std::pair<std::string, Enum>>;

const EnumNames<v1::Exchange::Scheme>& SchemeNames() {
  static const auto* names = new EnumNames<v1::Exchange::Scheme>{
      {"neighbors", v1::Exchange::NEIGHBORS},
      {"gibbs", v1::Exchange::GIBBS},
      {"none", v1::Exchange::NONE}};
  return *names;
}

const EnumNames<Range::Spacing>& SpacingNames() {
  static const auto* names = new EnumNames<Range::Spacing>{
      {"geometric", Range::GEOMETRIC}, {"linear", Range::LINEAR}};
  return *names;
}

template <typename Enum>
std::vector<std::string> NamesOf(const EnumNames<Enum>& names) {
  std::vector<std::string> out;
  for (const auto& [name, value] : names) out.push_back(name);
  return out;
}

// ---------------------------------------------------------------------------
// Messages shared by the YAML reader and Validate, so a problem reads the same
// whichever catches it.

std::string Join(absl::string_view path, absl::string_view key) {
  return path.empty() ? std::string(key) : absl::StrCat(path, ".", key);
}

std::string Index(absl::string_view path, int i) {
  return absl::StrCat(path, "[", i, "]");
}

absl::Status FieldError(absl::string_view path, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", problem));
}

// Workers hand these documents to OpenMM, whose XML parser crashes on
// malformed ones (lib/xml), so they are refused at submission.
absl::Status CheckXml(absl::string_view field, absl::string_view document) {
  absl::StatusOr<xml::Root> root = xml::CheckDocument(document);
  if (root.ok()) return absl::OkStatus();
  return FieldError(field, absl::StrCat("not well-formed XML: ",
                                        root.status().message(),
                                        "; write it with OpenMM's "
                                        "XmlSerializer"));
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

// " (did you mean "x"?)" when one of `known` is a plausible typo of `given`,
// else "".
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

// `text` quoted for a message, shortened so a pasted blob cannot flood it.
std::string Quote(absl::string_view text) {
  constexpr size_t kMaxShown = 60;
  if (text.size() <= kMaxShown) {
    return absl::StrCat("\"", absl::CHexEscape(text), "\"");
  }
  return absl::StrCat("\"", absl::CHexEscape(text.substr(0, kMaxShown)),
                      "...\"");
}

// "<path>: <name> is not one of a, b, c (did you mean ...?)".
absl::Status UnknownName(absl::string_view path, absl::string_view what,
                         absl::string_view name,
                         const std::vector<std::string>& valid,
                         absl::string_view note = "") {
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

// The start of every "not enough rungs" message.
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

absl::Status CheckFinite(double value, absl::string_view path) {
  if (std::isfinite(value)) return absl::OkStatus();
  return FieldError(path,
                    absl::StrCat(value, " is not a finite number; give one"));
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

// ---------------------------------------------------------------------------
// The ladder.

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
  if (n == 0) {
    return FieldError(source, absl::StrCat(TooFewRungs(0),
                                           "; set ladder.n_rungs: it is "
                                           "required unless temperatures_k or "
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

// ---------------------------------------------------------------------------
// Reading YAML. Readers return INVALID_ARGUMENT naming the path and the
// line/column; they never throw.

std::string Position(const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  if (mark.is_null()) return "";
  return absl::StrCat(" (line ", mark.line + 1, ", column ", mark.column + 1,
                      ")");
}

absl::Status YamlError(const YAML::Node& node, absl::string_view path,
                       absl::string_view problem) {
  return FieldError(path, absl::StrCat(problem, Position(node)));
}

// Adds where in the YAML text a value came from to a shared check's error.
absl::Status WithPosition(const absl::Status& status, const YAML::Node& node) {
  if (status.ok()) return status;
  return absl::Status(status.code(),
                      absl::StrCat(status.message(), Position(node)));
}

// What a node is, for "expected X, got Y".
std::string Describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return Quote(node.Scalar());
    default:
      return "nothing";
  }
}

absl::StatusOr<std::string> ReadString(const YAML::Node& node,
                                       const std::string& path) {
  if (!node.IsScalar()) {
    return YamlError(node, path,
                     absl::StrCat("expected a string, got ", Describe(node)));
  }
  return node.Scalar();
}

// A finite number; YAML's .nan and .inf are recognized and rejected.
absl::StatusOr<double> ReadFinite(const YAML::Node& node,
                                  const std::string& path) {
  double value = 0;
  if (!YAML::convert<double>::decode(node, value)) {
    return YamlError(node, path,
                     absl::StrCat("expected a number, got ", Describe(node)));
  }
  if (!std::isfinite(value)) {
    return YamlError(
        node, path,
        absl::StrCat("expected a finite number, got ", Describe(node)));
  }
  return value;
}

// A decimal integer that fits Int (no octal, hex or exponent forms).
template <typename Int>
absl::StatusOr<Int> ReadInteger(const YAML::Node& node,
                                const std::string& path) {
  Int value = 0;
  if (!node.IsScalar() || !absl::SimpleAtoi(node.Scalar(), &value)) {
    return YamlError(node, path,
                     absl::StrCat("expected an integer from ",
                                  std::numeric_limits<Int>::min(), " to ",
                                  std::numeric_limits<Int>::max(), ", got ",
                                  Describe(node)));
  }
  return value;
}

template <typename Enum>
absl::StatusOr<Enum> ReadName(const YAML::Node& node, const std::string& path,
                              absl::string_view what,
                              const EnumNames<Enum>& names) {
  absl::StatusOr<std::string> text = ReadString(node, path);
  if (!text.ok()) return text.status();
  for (const auto& [name, value] : names) {
    if (name == *text) return value;
  }
  return WithPosition(UnknownName(path, what, *text, NamesOf(names)), node);
}

absl::StatusOr<v1::Exchange::Scheme> ReadScheme(const YAML::Node& node,
                                                const std::string& path) {
  return ReadName(node, path, "an exchange scheme", SchemeNames());
}

absl::StatusOr<Range::Spacing> ReadSpacing(const YAML::Node& node,
                                           const std::string& path) {
  return ReadName(node, path, "a spacing", SpacingNames());
}

// A non-empty list of finite numbers. An empty list is an error here because
// the proto cannot tell it from an absent one.
absl::Status ReadFiniteList(const YAML::Node& node, const std::string& path,
                            google::protobuf::RepeatedField<double>* out) {
  if (!node.IsSequence()) {
    return YamlError(
        node, path,
        absl::StrCat("expected a list of numbers, got ", Describe(node)));
  }
  if (node.size() == 0) {
    return YamlError(node, path, "empty list; give one value per rung");
  }
  for (size_t i = 0; i < node.size(); ++i) {
    absl::StatusOr<double> value =
        ReadFinite(node[i], Index(path, static_cast<int>(i)));
    if (!value.ok()) return value.status();
    out->Add(*value);
  }
  return absl::OkStatus();
}

// What to do with one key's value; `path` is the key's YAML path.
using Handler = std::function<absl::Status(const YAML::Node& value,
                                           const std::string& path)>;

// The common handler: read a value with `read`, then `store` it, which may
// reject it with a shared check (the YAML position is added to its error).
template <typename T>
Handler Store(absl::StatusOr<T> (*read)(const YAML::Node&, const std::string&),
              std::function<absl::Status(T, const std::string&)> store) {
  return [read, store](const YAML::Node& node,
                       const std::string& path) -> absl::Status {
    absl::StatusOr<T> value = read(node, path);
    if (!value.ok()) return value.status();
    return WithPosition(store(*std::move(value), path), node);
  };
}

// Store for values every reading accepts.
template <typename T>
Handler Set(absl::StatusOr<T> (*read)(const YAML::Node&, const std::string&),
            std::function<void(T)> set) {
  return Store<T>(read, [set](T value, const std::string&) {
    set(std::move(value));
    return absl::OkStatus();
  });
}

struct Key {
  const char* name;
  Handler read;
  // Set for required keys: what the value is, for the "missing" message.
  const char* required = nullptr;
};

// Reads a map whose keys must all be among `keys`. Keys are read in the order
// of `keys`, so the first error is stable whatever order the file uses. A key
// with a null value (`key:` or `key: ~`) counts as absent.
absl::Status ReadMap(const YAML::Node& node, const std::string& path,
                     const std::vector<Key>& keys) {
  std::vector<std::string> names;
  for (const Key& key : keys) names.push_back(key.name);
  const std::string label = path.empty() ? "job spec" : path;
  if (!node.IsMap()) {
    return YamlError(
        node, label,
        absl::StrCat("expected a map with keys ", absl::StrJoin(names, ", "),
                     "; got ", Describe(node)));
  }
  std::map<std::string, YAML::Node> present;
  for (const auto& entry : node) {
    if (!entry.first.IsScalar()) {
      return YamlError(
          entry.first, label,
          absl::StrCat("keys must be names, got ", Describe(entry.first)));
    }
    const std::string& name = entry.first.Scalar();
    if (std::find(names.begin(), names.end(), name) == names.end()) {
      return YamlError(
          entry.first, Join(path, name),
          absl::StrCat(
              "unknown key", DidYouMean(name, names), "; the keys ",
              path.empty() ? "at the top level" : absl::StrCat("under ", path),
              " are ", absl::StrJoin(names, ", ")));
    }
    if (!present.emplace(name, entry.second).second) {
      return YamlError(entry.first, Join(path, name), "given twice; keep one");
    }
  }
  for (const Key& key : keys) {
    const auto it = present.find(key.name);
    if (it == present.end() || it->second.IsNull()) {
      if (key.required == nullptr) continue;
      return YamlError(node, Join(path, key.name),
                       absl::StrCat("missing; it is required: ", key.required));
    }
    absl::Status status = key.read(it->second, Join(path, key.name));
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

// A map of names to strings; numbers are kept as written ("1", "0.5").
absl::Status ReadStringMap(
    const YAML::Node& node, const std::string& path,
    google::protobuf::Map<std::string, std::string>* out) {
  if (!node.IsMap()) {
    return YamlError(node, path,
                     absl::StrCat("expected a map of names to values, got ",
                                  Describe(node)));
  }
  for (const auto& entry : node) {
    absl::StatusOr<std::string> key = ReadString(entry.first, path);
    if (!key.ok()) return key.status();
    absl::StatusOr<std::string> value =
        ReadString(entry.second, Join(path, *key));
    if (!value.ok()) return value.status();
    if (!out->insert({*key, *value}).second) {
      return YamlError(entry.first, Join(path, *key), "given twice; keep one");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFileContents(const std::filesystem::path& file,
                                             absl::string_view what) {
  std::error_code error;
  std::filesystem::path shown = std::filesystem::absolute(file, error);
  if (error) shown = file;
  shown = shown.lexically_normal();
  if (std::filesystem::is_directory(file, error)) {
    return absl::NotFoundError(absl::StrCat(what, ": ", shown.string(),
                                            " is a directory, not a file"));
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat(what, ": cannot read ",
                                            shown.string(), " (",
                                            std::strerror(errno), ")"));
  }
  std::string contents{std::istreambuf_iterator<char>(in),
                       std::istreambuf_iterator<char>()};
  if (in.bad()) {
    return absl::NotFoundError(
        absl::StrCat(what, ": error reading ", shown.string()));
  }
  return contents;
}

// The contents of the non-empty file a key names, relative to base_dir. Sets
// `name` to the name as written.
absl::StatusOr<std::string> ReadInputFile(const YAML::Node& node,
                                          const std::string& path,
                                          const std::filesystem::path& base_dir,
                                          std::string& name) {
  absl::StatusOr<std::string> text = ReadString(node, path);
  if (!text.ok()) return text.status();
  if (text->empty()) return YamlError(node, path, "empty file name");
  name = *text;
  const std::filesystem::path file = base_dir / name;
  absl::StatusOr<std::string> contents = ReadFileContents(file, path);
  if (!contents.ok()) {
    return absl::Status(
        contents.status().code(),
        absl::StrCat(contents.status().message(), Position(node),
                     std::filesystem::path(name).is_relative()
                         ? "; relative names are resolved against the YAML "
                           "file's directory"
                         : ""));
  }
  if (contents->empty()) {
    return YamlError(node, path, absl::StrCat(file.string(), " is empty"));
  }
  return contents;
}

// Proto3 cannot tell an explicit 0 from an absent value, and ApplyDefaults
// replaces 0 friction with the default; so a written 0 is refused rather than
// silently changed.
absl::Status RejectZeroFriction(double per_ps, const std::string& path) {
  if (per_ps != 0) return absl::OkStatus();
  return FieldError(path,
                    absl::StrCat("0 cannot be given: the job spec reads 0 as "
                                 "unset and uses the default ",
                                 kDefaultFrictionPerPs,
                                 "/ps; omit the key or give a positive value "
                                 "(e.g. 0.01 for weak coupling)"));
}

absl::Status ReadRange(const YAML::Node& node, const std::string& path,
                       Range& range) {
  return ReadMap(
      node, path,
      {{"min", Set<double>(ReadFinite, [&](double v) { range.set_min(v); }),
        "the lowest value"},
       {"max", Set<double>(ReadFinite, [&](double v) { range.set_max(v); }),
        "the highest value"},
       {"spacing", Set<Range::Spacing>(ReadSpacing, [&](Range::Spacing s) {
          range.set_spacing(s);
        })}});
}

absl::Status ReadParameters(const YAML::Node& node, const std::string& path,
                            v1::Ladder& ladder) {
  if (!node.IsSequence()) {
    return YamlError(node, path,
                     absl::StrCat("expected a list of {name, values or range}, "
                                  "got ",
                                  Describe(node)));
  }
  for (size_t i = 0; i < node.size(); ++i) {
    v1::ParameterLadder& parameter = *ladder.add_parameters();
    absl::Status status =
        ReadMap(node[i], Index(path, static_cast<int>(i)),
                {{"name",
                  Set<std::string>(
                      ReadString,
                      [&](std::string s) { parameter.set_name(std::move(s)); }),
                  "the global parameter's name in the System"},
                 {"values",
                  [&](const YAML::Node& v, const std::string& p) {
                    return ReadFiniteList(v, p, parameter.mutable_values());
                  }},
                 {"range", [&](const YAML::Node& v, const std::string& p) {
                    return ReadRange(v, p, *parameter.mutable_range());
                  }}});
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

absl::Status ReadLadder(const YAML::Node& node, const std::string& path,
                        v1::Ladder& ladder) {
  return ReadMap(
      node, path,
      {{"n_rungs", Store<int32_t>(ReadInteger<int32_t>,
                                  [&](int32_t n, const std::string& p) {
                                    ladder.set_n_rungs(n);
                                    // 0 would read as "unset" below.
                                    return CheckRungCount(n, p);
                                  })},
       {"temperatures_k",
        [&](const YAML::Node& v, const std::string& p) {
          return ReadFiniteList(v, p, ladder.mutable_temperatures_k());
        }},
       {"temperature_range_k",
        [&](const YAML::Node& v, const std::string& p) {
          return ReadRange(v, p, *ladder.mutable_temperature_range_k());
        }},
       // 0 would read as "unset", so the value is checked here too.
       {"temperature_k", Store<double>(ReadFinite,
                                       [&](double t, const std::string& p) {
                                         ladder.set_temperature_k(t);
                                         return CheckTemperature(t, p);
                                       })},
       {"parameters", [&](const YAML::Node& v, const std::string& p) {
          return ReadParameters(v, p, ladder);
        }}});
}

absl::Status ReadIntegrator(const YAML::Node& node, const std::string& path,
                            v1::Integrator& integrator) {
  return ReadMap(
      node, path,
      {{"timestep_ps", Store<double>(ReadFinite,
                                     [&](double dt, const std::string& p) {
                                       integrator.set_timestep_ps(dt);
                                       return CheckTimestep(dt, p);
                                     })},
       {"friction_per_ps",
        Store<double>(ReadFinite, [&](double gamma, const std::string& p) {
          integrator.set_friction_per_ps(gamma);
          absl::Status status = CheckFriction(gamma, p);
          return status.ok() ? RejectZeroFriction(gamma, p) : status;
        })}});
}

absl::Status ReadExchange(const YAML::Node& node, const std::string& path,
                          v1::Exchange& exchange) {
  return ReadMap(
      node, path,
      {{"scheme", Set<v1::Exchange::Scheme>(
                      ReadScheme,
                      [&](v1::Exchange::Scheme s) { exchange.set_scheme(s); })},
       {"steps_per_exchange",
        Set<int32_t>(ReadInteger<int32_t>,
                     [&](int32_t n) { exchange.set_steps_per_exchange(n); }),
        "MD steps each replica runs between exchange attempts, e.g. 500"},
       {"n_rounds",
        Set<int32_t>(ReadInteger<int32_t>,
                     [&](int32_t n) { exchange.set_n_rounds(n); }),
        "how many exchange rounds the job runs"},
       {"swap_attempts", Set<int64_t>(ReadInteger<int64_t>, [&](int64_t n) {
          exchange.set_swap_attempts(n);
        })}});
}

absl::Status ReadOutput(const YAML::Node& node, const std::string& path,
                        v1::Output& output) {
  return ReadMap(
      node, path,
      {{"directory", Set<std::string>(ReadString,
                                      [&](std::string s) {
                                        output.set_directory(std::move(s));
                                      })},
       {"frame_interval", Set<int32_t>(ReadInteger<int32_t>, [&](int32_t n) {
          output.set_frame_interval(n);
        })}});
}

// A relative results directory must stay under the results root it is
// resolved against.
absl::Status CheckOutput(const v1::Output& output) {
  if (absl::Status status =
          AtLeast(output.frame_interval(), 0, "output.frame_interval",
                  "rounds between trajectory frames; 0 "
                  "writes no trajectories");
      !status.ok()) {
    return status;
  }
  for (const auto& part : std::filesystem::path(output.directory())) {
    if (part == "..") {
      return FieldError("output.directory",
                        absl::StrCat("\"", output.directory(),
                                     "\" contains \"..\"; name a directory "
                                     "below the results root"));
    }
  }
  return absl::OkStatus();
}

absl::Status ReadJobSpec(const YAML::Node& node,
                         const std::filesystem::path& base_dir, JobSpec& spec) {
  return ReadMap(
      node, "",
      {{"name",
        Set<std::string>(ReadString,
                         [&](std::string s) { spec.set_name(std::move(s)); })},
       {"owner",
        Set<std::string>(ReadString,
                         [&](std::string s) { spec.set_owner(std::move(s)); })},
       {"labels",
        [&](const YAML::Node& v, const std::string& p) {
          return ReadStringMap(v, p, spec.mutable_labels());
        }},
       {"system",
        [&](const YAML::Node& v, const std::string& p) -> absl::Status {
          std::string name;
          absl::StatusOr<std::string> xml = ReadInputFile(v, p, base_dir, name);
          if (!xml.ok()) return xml.status();
          spec.set_system_xml(*std::move(xml));
          return absl::OkStatus();
        },
        "the OpenMM System XML file, relative to this YAML file"},
       {"coordinates",
        [&](const YAML::Node& v, const std::string& p) -> absl::Status {
          std::string name;
          absl::StatusOr<std::string> text =
              ReadInputFile(v, p, base_dir, name);
          if (!text.ok()) return text.status();
          const bool pdb =
              absl::AsciiStrToLower(
                  std::filesystem::path(name).extension().string()) == ".pdb";
          if (pdb) {
            spec.set_pdb(*std::move(text));
          } else {
            spec.set_state_xml(*std::move(text));
          }
          return absl::OkStatus();
        },
        "an OpenMM State XML or .pdb file, relative to this YAML file"},
       {"platform",
        Store<std::string>(ReadString,
                           [&](std::string s, const std::string& p) {
                             spec.set_platform(s);
                             return CheckPlatform(s, p);
                           })},
       {"platform_properties",
        [&](const YAML::Node& v, const std::string& p) {
          return ReadStringMap(v, p, spec.mutable_platform_properties());
        }},
       {"seed", Set<uint64_t>(ReadInteger<uint64_t>,
                              [&](uint64_t s) { spec.set_seed(s); })},
       {"checkpoint_interval",
        Set<int32_t>(ReadInteger<int32_t>,
                     [&](int32_t n) { spec.set_checkpoint_interval(n); })},
       {"integrator",
        [&](const YAML::Node& v, const std::string& p) {
          return ReadIntegrator(v, p, *spec.mutable_integrator());
        }},
       {"ladder",
        [&](const YAML::Node& v, const std::string& p) {
          return ReadLadder(v, p, *spec.mutable_ladder());
        },
        "the rungs: temperatures and optional parameters"},
       {"exchange",
        [&](const YAML::Node& v, const std::string& p) {
          return ReadExchange(v, p, *spec.mutable_exchange());
        },
        "steps_per_exchange and n_rounds, optionally scheme"},
       {"output", [&](const YAML::Node& v, const std::string& p) {
          return ReadOutput(v, p, *spec.mutable_output());
        }}});
}

absl::Status YamlExceptionStatus(const YAML::Exception& e) {
  return absl::InvalidArgumentError(absl::StrCat(
      "job spec: YAML syntax error",
      e.mark.is_null() ? ""
                       : absl::StrCat(" at line ", e.mark.line + 1, ", column ",
                                      e.mark.column + 1),
      ": ", e.msg));
}

}  // namespace

absl::StatusOr<v1::JobSpec> ParseYaml(const std::string& yaml,
                                      const std::filesystem::path& base_dir) {
  JobSpec spec;
  // yaml-cpp reports syntax errors (and, in principle, misuse) by throwing;
  // the readers above avoid the throwing accessors, this is the backstop.
  try {
    const std::vector<YAML::Node> documents = YAML::LoadAll(yaml);
    if (documents.empty() || documents[0].IsNull()) {
      return absl::InvalidArgumentError(
          "job spec: empty; give at least system, coordinates, ladder and "
          "exchange (see docs/job-spec.md)");
    }
    if (documents.size() > 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "job spec: ", documents.size(),
          " YAML documents (separated by ---); give one job per file"));
    }
    absl::Status status = ReadJobSpec(documents[0], base_dir, spec);
    if (!status.ok()) return status;
  } catch (const YAML::Exception& e) {
    return YamlExceptionStatus(e);
  }
  ApplyDefaults(spec);
  absl::Status status = Validate(spec);
  if (!status.ok()) return status;
  return spec;
}

absl::StatusOr<v1::JobSpec> LoadYamlFile(const std::filesystem::path& path) {
  absl::StatusOr<std::string> yaml = ReadFileContents(path, "job spec");
  if (!yaml.ok()) return yaml.status();
  return ParseYaml(*yaml, path.parent_path());
}

void ApplyDefaults(v1::JobSpec& spec) {
  // Proto3 scalars have no presence: 0 and "" mean "unset".
  v1::Integrator& integrator = *spec.mutable_integrator();
  if (integrator.timestep_ps() == 0) {
    integrator.set_timestep_ps(kDefaultTimestepPs);
  }
  if (integrator.friction_per_ps() == 0) {
    integrator.set_friction_per_ps(kDefaultFrictionPerPs);
  }
  if (spec.platform().empty()) spec.set_platform(kDefaultPlatform);
  if (spec.exchange().scheme() == v1::Exchange::SCHEME_UNSPECIFIED) {
    spec.mutable_exchange()->set_scheme(v1::Exchange::NEIGHBORS);
  }
  // Spelling the spacing out makes a stored spec mean the same thing even if
  // a default changes later.
  v1::Ladder& ladder = *spec.mutable_ladder();
  if (ladder.has_temperature_range_k() &&
      ladder.temperature_range_k().spacing() == Range::SPACING_UNSPECIFIED) {
    ladder.mutable_temperature_range_k()->set_spacing(Range::GEOMETRIC);
  }
  for (v1::ParameterLadder& parameter : *ladder.mutable_parameters()) {
    if (parameter.has_range() &&
        parameter.range().spacing() == Range::SPACING_UNSPECIFIED) {
      parameter.mutable_range()->set_spacing(Range::LINEAR);
    }
  }
}

absl::Status Validate(const v1::JobSpec& spec) {
  if (spec.system_xml().empty()) {
    return FieldError("system",
                      "no OpenMM System given; name its serialized XML file "
                      "(system_xml over gRPC)");
  }
  if (absl::Status status = CheckXml("system", spec.system_xml());
      !status.ok()) {
    return status;
  }
  const std::string& coordinates =
      spec.coordinates_case() == JobSpec::kPdb ? spec.pdb() : spec.state_xml();
  if (coordinates.empty()) {
    return FieldError("coordinates",
                      "no initial coordinates given; name an OpenMM State XML "
                      "or a .pdb file (state_xml or pdb over gRPC)");
  }
  if (spec.coordinates_case() == JobSpec::kStateXml) {
    if (absl::Status status = CheckXml("state", spec.state_xml());
        !status.ok()) {
      return status;
    }
  }
  const v1::Exchange& exchange = spec.exchange();
  if (!v1::Exchange::Scheme_IsValid(exchange.scheme())) {
    return UnknownName("exchange.scheme", "an exchange scheme",
                       absl::StrCat(static_cast<int>(exchange.scheme())),
                       NamesOf(SchemeNames()));
  }
  const bool gibbs = exchange.scheme() == v1::Exchange::GIBBS;
  for (absl::Status status :
       {CheckPlatform(spec.platform(), "platform"),
        CheckTimestep(spec.integrator().timestep_ps(),
                      "integrator.timestep_ps"),
        CheckFriction(spec.integrator().friction_per_ps(),
                      "integrator.friction_per_ps"),
        BuildLadder(spec.ladder()).status(),
        AtLeast(exchange.steps_per_exchange(), 1, "exchange.steps_per_exchange",
                "MD steps each replica runs between exchange attempts"),
        AtLeast(exchange.n_rounds(), 1, "exchange.n_rounds",
                "exchange rounds the job runs"),
        AtLeast(exchange.swap_attempts(), 0, "exchange.swap_attempts",
                "swap attempts per gibbs round; 0 means the default"),
        AtMost(exchange.swap_attempts(), kMaxSwapAttempts,
               "exchange.swap_attempts", "swap attempts per gibbs round"),
        exchange.swap_attempts() == 0 || gibbs
            ? absl::OkStatus()
            : FieldError("exchange.swap_attempts",
                         "only the gibbs scheme uses it; remove it or set "
                         "exchange.scheme: gibbs"),
        AtLeast(spec.checkpoint_interval(), 0, "checkpoint_interval",
                "rounds between checkpoints; 0 means only at the end"),
        CheckOutput(spec.output())}) {
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

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

exchange::Scheme SchemeOf(const v1::Exchange& exchange) {
  switch (exchange.scheme()) {
    case v1::Exchange::GIBBS:
      return exchange::Scheme::kGibbs;
    case v1::Exchange::NONE:
      return exchange::Scheme::kNone;
    default:  // NEIGHBORS, and UNSPECIFIED, which means it.
      return exchange::Scheme::kNeighbors;
  }
}

}  // namespace replex::spec
