// The job spec's YAML reader: ParseYaml and LoadYamlFile (see spec.h and
// docs/job-spec.md). Readers return INVALID_ARGUMENT naming the YAML path and
// the line/column; they never throw.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
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
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "lib/spec/field_errors.h"
#include "lib/spec/spec.h"
#include "lib/spec/yaml_inputs.h"
#include "lib/spec/yaml_tree.h"

namespace replex::spec {
namespace {

using internal::AdaptTargetNames;
using internal::CheckFriction;
using internal::CheckPlatform;
using internal::CheckRungCount;
using internal::CheckTemperature;
using internal::CheckTimestep;
using internal::Describe;
using internal::DidYouMean;
using internal::EnumNames;
using internal::FieldError;
using internal::Index;
using internal::Join;
using internal::ModeNames;
using internal::NamesOf;
using internal::Position;
using internal::Quote;
using internal::ReadCoordinates;
using internal::ReadFileContents;
using internal::ReadInputFile;
using internal::ReadReplicaStarts;
using internal::ReadString;
using internal::SchemeNames;
using internal::SpacingNames;
using internal::UnknownName;
using internal::WithPosition;
using internal::YamlError;
using internal::YamlNode;
using v1::JobSpec;
using v1::Range;

// A decimal number, as YAML writes one ("-1", "2.5", "1e-3"); YAML's
// .nan and .inf are recognized and rejected.
absl::StatusOr<double> ReadFinite(const YamlNode& node,
                                  const std::string& path) {
  const std::string& text = node.text;
  std::string lower = absl::AsciiStrToLower(text);
  if (!lower.empty() && (lower[0] == '+' || lower[0] == '-')) lower.erase(0, 1);
  double value = 0;
  if (node.IsScalar() && (lower == ".inf" || lower == ".nan")) {
    value = std::numeric_limits<double>::infinity();
  } else if (!node.IsScalar() || text.empty() ||
             text.find_first_not_of("0123456789+-.eE") != std::string::npos ||
             !absl::SimpleAtod(text, &value)) {
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
absl::StatusOr<Int> ReadInteger(const YamlNode& node, const std::string& path) {
  Int value = 0;
  if (!node.IsScalar() || !absl::SimpleAtoi(node.text, &value)) {
    return YamlError(node, path,
                     absl::StrCat("expected an integer from ",
                                  std::numeric_limits<Int>::min(), " to ",
                                  std::numeric_limits<Int>::max(), ", got ",
                                  Describe(node)));
  }
  return value;
}

// true or false, in YAML 1.1's spellings (yes/no, on/off, y/n too), each
// in lower case, upper case or with a capital.
absl::StatusOr<bool> ReadBool(const YamlNode& node, const std::string& path) {
  const std::string& text = node.text;
  const std::string lower = absl::AsciiStrToLower(text);
  const bool capitalized = !text.empty() && text.substr(1) == lower.substr(1);
  if (node.IsScalar() && (capitalized || text == absl::AsciiStrToUpper(text))) {
    for (const char* yes : {"true", "yes", "on", "y"}) {
      if (lower == yes) return true;
    }
    for (const char* no : {"false", "no", "off", "n"}) {
      if (lower == no) return false;
    }
  }
  return YamlError(
      node, path, absl::StrCat("expected true or false, got ", Describe(node)));
}

template <typename Enum>
absl::StatusOr<Enum> ReadName(const YamlNode& node, const std::string& path,
                              absl::string_view what,
                              const EnumNames<Enum>& names) {
  absl::StatusOr<std::string> text = ReadString(node, path);
  if (!text.ok()) return text.status();
  for (const auto& [name, value] : names) {
    if (name == *text) return value;
  }
  return WithPosition(UnknownName(path, what, *text, NamesOf(names)), node);
}

absl::StatusOr<v1::Exchange::Scheme> ReadScheme(const YamlNode& node,
                                                const std::string& path) {
  return ReadName(node, path, "an exchange scheme", SchemeNames());
}

absl::StatusOr<v1::Exchange::Mode> ReadMode(const YamlNode& node,
                                            const std::string& path) {
  return ReadName(node, path, "an exchange mode", ModeNames());
}

absl::StatusOr<v1::LadderAdaptation::Target> ReadAdaptTarget(
    const YamlNode& node, const std::string& path) {
  return ReadName(node, path, "an adaptation target", AdaptTargetNames());
}

absl::StatusOr<Range::Spacing> ReadSpacing(const YamlNode& node,
                                           const std::string& path) {
  return ReadName(node, path, "a spacing", SpacingNames());
}

// A non-empty list of finite numbers. An empty list is an error here because
// the proto cannot tell it from an absent one.
absl::Status ReadFiniteList(const YamlNode& node, const std::string& path,
                            google::protobuf::RepeatedField<double>* out) {
  if (!node.IsSequence()) {
    return YamlError(
        node, path,
        absl::StrCat("expected a list of numbers, got ", Describe(node)));
  }
  if (node.items.empty()) {
    return YamlError(node, path, "empty list; give one value per rung");
  }
  for (size_t i = 0; i < node.items.size(); ++i) {
    absl::StatusOr<double> value =
        ReadFinite(node.items[i], Index(path, static_cast<int>(i)));
    if (!value.ok()) return value.status();
    out->Add(*value);
  }
  return absl::OkStatus();
}

// What to do with one key's value; `path` is the key's YAML path.
using Handler =
    std::function<absl::Status(const YamlNode& value, const std::string& path)>;

// The common handler: read a value with `read`, then `store` it, which may
// reject it with a shared check (the YAML position is added to its error).
template <typename T>
Handler Store(absl::StatusOr<T> (*read)(const YamlNode&, const std::string&),
              std::function<absl::Status(T, const std::string&)> store) {
  return [read, store](const YamlNode& node,
                       const std::string& path) -> absl::Status {
    absl::StatusOr<T> value = read(node, path);
    if (!value.ok()) return value.status();
    return WithPosition(store(*std::move(value), path), node);
  };
}

// Store for values every reading accepts.
template <typename T>
Handler Set(absl::StatusOr<T> (*read)(const YamlNode&, const std::string&),
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
absl::Status ReadMap(const YamlNode& node, const std::string& path,
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
  std::map<std::string, YamlNode> present;
  for (const YamlNode::Entry& entry : node.entries) {
    if (!entry.key.IsScalar()) {
      return YamlError(
          entry.key, label,
          absl::StrCat("keys must be names, got ", Describe(entry.key)));
    }
    const std::string& name = entry.key.text;
    if (std::find(names.begin(), names.end(), name) == names.end()) {
      return YamlError(
          entry.key, Join(path, name),
          absl::StrCat(
              "unknown key", DidYouMean(name, names), "; the keys ",
              path.empty() ? "at the top level" : absl::StrCat("under ", path),
              " are ", absl::StrJoin(names, ", ")));
    }
    if (!present.emplace(name, entry.value).second) {
      return YamlError(entry.key, Join(path, name), "given twice; keep one");
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
    const YamlNode& node, const std::string& path,
    google::protobuf::Map<std::string, std::string>* out) {
  if (!node.IsMap()) {
    return YamlError(node, path,
                     absl::StrCat("expected a map of names to values, got ",
                                  Describe(node)));
  }
  for (const YamlNode::Entry& entry : node.entries) {
    absl::StatusOr<std::string> key = ReadString(entry.key, path);
    if (!key.ok()) return key.status();
    absl::StatusOr<std::string> value =
        ReadString(entry.value, Join(path, *key));
    if (!value.ok()) return value.status();
    if (!out->insert({*key, *value}).second) {
      return YamlError(entry.key, Join(path, *key), "given twice; keep one");
    }
  }
  return absl::OkStatus();
}

absl::Status ReadRange(const YamlNode& node, const std::string& path,
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

absl::Status ReadParameters(const YamlNode& node, const std::string& path,
                            v1::Ladder& ladder) {
  if (!node.IsSequence()) {
    return YamlError(node, path,
                     absl::StrCat("expected a list of {name, values or range}, "
                                  "got ",
                                  Describe(node)));
  }
  for (size_t i = 0; i < node.items.size(); ++i) {
    v1::ParameterLadder& parameter = *ladder.add_parameters();
    absl::Status status =
        ReadMap(node.items[i], Index(path, static_cast<int>(i)),
                {{"name",
                  Set<std::string>(
                      ReadString,
                      [&](std::string s) { parameter.set_name(std::move(s)); }),
                  "the global parameter's name in the System"},
                 {"values",
                  [&](const YamlNode& v, const std::string& p) {
                    return ReadFiniteList(v, p, parameter.mutable_values());
                  }},
                 {"range", [&](const YamlNode& v, const std::string& p) {
                    return ReadRange(v, p, *parameter.mutable_range());
                  }}});
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

// The ladder, or (`is_axis`) one axis of a grid ladder, which has no axes of
// its own.
absl::Status ReadLadder(const YamlNode& node, const std::string& path,
                        v1::Ladder& ladder, bool is_axis = false) {
  std::vector<Key> keys = {
      {"n_rungs", Store<int32_t>(ReadInteger<int32_t>,
                                 [&](int32_t n, const std::string& p) {
                                   ladder.set_n_rungs(n);
                                   // 0 would read as "unset" below.
                                   return CheckRungCount(n, p);
                                 })},
      {"temperatures_k",
       [&](const YamlNode& v, const std::string& p) {
         return ReadFiniteList(v, p, ladder.mutable_temperatures_k());
       }},
      {"temperature_range_k",
       [&](const YamlNode& v, const std::string& p) {
         return ReadRange(v, p, *ladder.mutable_temperature_range_k());
       }},
      // 0 would read as "unset", so the value is checked here too.
      {"temperature_k", Store<double>(ReadFinite,
                                      [&](double t, const std::string& p) {
                                        ladder.set_temperature_k(t);
                                        return CheckTemperature(t, p);
                                      })},
      {"parameters",
       [&](const YamlNode& v, const std::string& p) {
         return ReadParameters(v, p, ladder);
       }},
      {"pressures_bar", [&](const YamlNode& v, const std::string& p) {
         return ReadFiniteList(v, p, ladder.mutable_pressures_bar());
       }}};
  if (!is_axis) {
    keys.push_back(
        {"adapt", [&](const YamlNode& v, const std::string& p) {
           v1::LadderAdaptation& adapt = *ladder.mutable_adapt();
           return ReadMap(
               v, p,
               {{"rounds",
                 Set<int32_t>(ReadInteger<int32_t>,
                              [&](int32_t n) { adapt.set_rounds(n); }),
                 "rounds of the adaptation phase, e.g. 1000"},
                {"interval",
                 Set<int32_t>(ReadInteger<int32_t>,
                              [&](int32_t n) { adapt.set_interval(n); }),
                 "rounds between changes of the ladder, e.g. 200"},
                {"target",
                 Set<v1::LadderAdaptation::Target>(
                     ReadAdaptTarget, [&](v1::LadderAdaptation::Target t) {
                       adapt.set_target(t);
                     })}});
         }});
    keys.push_back({"axes", [&](const YamlNode& v, const std::string& p) {
                      if (!v.IsSequence()) {
                        return YamlError(v, p,
                                         absl::StrCat("expected a list of "
                                                      "ladders (one per "
                                                      "axis), got ",
                                                      Describe(v)));
                      }
                      for (size_t i = 0; i < v.items.size(); ++i) {
                        absl::Status status = ReadLadder(
                            v.items[i], Index(p, static_cast<int>(i)),
                            *ladder.add_axes(), /*is_axis=*/true);
                        if (!status.ok()) return status;
                      }
                      return absl::OkStatus();
                    }});
  }
  return ReadMap(node, path, keys);
}

absl::Status ReadIntegrator(const YamlNode& node, const std::string& path,
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
          return CheckFriction(gamma, p);
        })}});
}

absl::Status ReadExchange(const YamlNode& node, const std::string& path,
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
       {"swap_attempts",
        Set<int64_t>(ReadInteger<int64_t>,
                     [&](int64_t n) { exchange.set_swap_attempts(n); })},
       {"energies_every",
        Set<int32_t>(ReadInteger<int32_t>,
                     [&](int32_t n) { exchange.set_energies_every(n); })},
       {"mode", Set<v1::Exchange::Mode>(ReadMode, [&](v1::Exchange::Mode m) {
          exchange.set_mode(m);
        })}});
}

absl::Status ReadOutput(const YamlNode& node, const std::string& path,
                        v1::Output& output) {
  return ReadMap(
      node, path,
      {{"directory", Set<std::string>(ReadString,
                                      [&](std::string s) {
                                        output.set_directory(std::move(s));
                                      })},
       {"frame_interval",
        Set<int32_t>(ReadInteger<int32_t>,
                     [&](int32_t n) { output.set_frame_interval(n); })},
       {"per_replica_trajectories", Set<bool>(ReadBool, [&](bool b) {
          output.set_per_replica_trajectories(b);
        })}});
}

absl::Status ReadJobSpec(const YamlNode& node,
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
        [&](const YamlNode& v, const std::string& p) {
          return ReadStringMap(v, p, spec.mutable_labels());
        }},
       {"system",
        [&](const YamlNode& v, const std::string& p) -> absl::Status {
          std::string name;
          absl::StatusOr<std::string> xml = ReadInputFile(v, p, base_dir, name);
          if (!xml.ok()) return xml.status();
          spec.set_system_xml(*std::move(xml));
          return absl::OkStatus();
        },
        "the OpenMM System XML file, relative to this YAML file"},
       {"coordinates",
        [&](const YamlNode& v, const std::string& p) -> absl::Status {
          absl::StatusOr<v1::Coordinates> c = ReadCoordinates(v, p, base_dir);
          if (!c.ok()) return c.status();
          if (c->has_pdb()) {
            spec.set_pdb(std::move(*c->mutable_pdb()));
          } else {
            spec.set_state_xml(std::move(*c->mutable_state_xml()));
          }
          return absl::OkStatus();
        },
        "an OpenMM State XML or .pdb file, relative to this YAML file"},
       {"replica_starts",
        [&](const YamlNode& v, const std::string& p) {
          return ReadReplicaStarts(v, p, base_dir, spec);
        }},
       {"topology",
        [&](const YamlNode& v, const std::string& p) -> absl::Status {
          std::string name;
          absl::StatusOr<std::string> text =
              ReadInputFile(v, p, base_dir, name);
          if (!text.ok()) return text.status();
          spec.set_topology_pdb(*std::move(text));
          return absl::OkStatus();
        }},
       {"platform",
        Store<std::string>(ReadString,
                           [&](std::string s, const std::string& p) {
                             spec.set_platform(s);
                             return CheckPlatform(s, p);
                           })},
       {"platform_properties",
        [&](const YamlNode& v, const std::string& p) {
          return ReadStringMap(v, p, spec.mutable_platform_properties());
        }},
       {"seed", Set<uint64_t>(ReadInteger<uint64_t>,
                              [&](uint64_t s) { spec.set_seed(s); })},
       {"checkpoint_interval",
        Set<int32_t>(ReadInteger<int32_t>,
                     [&](int32_t n) { spec.set_checkpoint_interval(n); })},
       {"integrator",
        [&](const YamlNode& v, const std::string& p) {
          return ReadIntegrator(v, p, *spec.mutable_integrator());
        }},
       {"ladder",
        [&](const YamlNode& v, const std::string& p) {
          return ReadLadder(v, p, *spec.mutable_ladder());
        },
        "the rungs: temperatures and optional parameters"},
       {"exchange",
        [&](const YamlNode& v, const std::string& p) {
          return ReadExchange(v, p, *spec.mutable_exchange());
        },
        "steps_per_exchange and n_rounds, optionally scheme"},
       {"output", [&](const YamlNode& v, const std::string& p) {
          return ReadOutput(v, p, *spec.mutable_output());
        }}});
}

}  // namespace

absl::StatusOr<v1::JobSpec> ParseYaml(const std::string& yaml,
                                      const std::filesystem::path& base_dir) {
  absl::StatusOr<std::vector<YamlNode>> documents =
      internal::ParseYamlDocuments(yaml);
  if (!documents.ok()) {
    return absl::Status(
        documents.status().code(),
        absl::StrCat("job spec: ", documents.status().message()));
  }
  if (documents->empty() || (*documents)[0].IsNull()) {
    return absl::InvalidArgumentError(
        "job spec: empty; give at least system, coordinates, ladder and "
        "exchange (see docs/job-spec.md)");
  }
  if (documents->size() > 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "job spec: ", documents->size(),
        " YAML documents (separated by ---); give one job per file"));
  }
  JobSpec spec;
  if (absl::Status status = ReadJobSpec((*documents)[0], base_dir, spec);
      !status.ok()) {
    return status;
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

}  // namespace replex::spec
