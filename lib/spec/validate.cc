// The job spec's defaults and its validation (see spec.h and
// docs/job-spec.md). Every error names the field by its YAML path, because
// that is what a user edits, whichever way the spec arrived.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "lib/spec/field_errors.h"
#include "lib/spec/spec.h"
#include "lib/text/utf8.h"
#include "lib/xml/xml.h"

namespace replex::spec {
namespace {

using internal::AdaptTargetNames;
using internal::AtLeast;
using internal::AtMost;
using internal::CheckFriction;
using internal::CheckPlatform;
using internal::CheckTimestep;
using internal::FieldError;
using internal::ModeNames;
using internal::NamesOf;
using internal::SchemeNames;
using internal::UnknownName;
using v1::JobSpec;
using v1::Range;

// Like the ladder's limits (ladder.cc), keeps a mistaken or hostile spec from
// exhausting the coordinator's time; far above any real gibbs round.
constexpr int64_t kMaxSwapAttempts = 1000000000;
// Fewer rounds between changes measure acceptance too noisily to act on.
constexpr int kMinAdaptInterval = 10;
constexpr int64_t kMaxAdaptChanges = 1000;

// The platform properties a job may set, per platform, with what each value
// may be. Everything else is refused: properties naming programs or paths
// (CudaCompiler, CudaHostCompiler, TempDirectory) would let a job run
// commands of its choosing on the workers, and absurd values (a million
// Threads) would take a worker down.
struct PropertyRule {
  const char* platform;
  const char* name;
  enum { kCount, kDeviceList, kPrecision, kBoolean } kind;
};
constexpr PropertyRule kPropertyRules[] = {
    {"CPU", "Threads", PropertyRule::kCount},
    {"CPU", "DeterministicForces", PropertyRule::kBoolean},
    {"OpenCL", "DeviceIndex", PropertyRule::kDeviceList},
    {"OpenCL", "OpenCLPlatformIndex", PropertyRule::kCount},
    {"OpenCL", "Precision", PropertyRule::kPrecision},
    {"OpenCL", "UseCpuPme", PropertyRule::kBoolean},
    {"OpenCL", "DisablePmeStream", PropertyRule::kBoolean},
    {"CUDA", "DeviceIndex", PropertyRule::kDeviceList},
    {"CUDA", "Precision", PropertyRule::kPrecision},
    {"CUDA", "UseCpuPme", PropertyRule::kBoolean},
    {"CUDA", "DisablePmeStream", PropertyRule::kBoolean},
    {"CUDA", "DeterministicForces", PropertyRule::kBoolean},
    {"CUDA", "UseBlockingSync", PropertyRule::kBoolean},
};
// Threads and indices: far above any machine, far below harm.
constexpr int kMaxCount = 1024;

bool IsCount(absl::string_view value, int min) {
  int n;
  return absl::SimpleAtoi(value, &n) && n >= min && n < kMaxCount;
}

absl::Status CheckPlatformProperties(const JobSpec& spec) {
  std::vector<std::string> allowed;
  for (const PropertyRule& rule : kPropertyRules) {
    if (spec.platform() == rule.platform) allowed.push_back(rule.name);
  }
  for (const auto& [name, value] : spec.platform_properties()) {
    const PropertyRule* rule = nullptr;
    for (const PropertyRule& r : kPropertyRules) {
      if (spec.platform() == r.platform && name == r.name) rule = &r;
    }
    const std::string field =
        absl::StrCat("platform_properties.", rule != nullptr ? name : "");
    if (rule == nullptr) {
      return FieldError(
          "platform_properties",
          absl::StrCat(
              text::Shown(name), " is not a property a job may set on the ",
              spec.platform(), " platform; allowed: ",
              allowed.empty() ? "none" : absl::StrJoin(allowed, ", ")));
    }
    bool ok = false;
    const char* expected = "";
    switch (rule->kind) {
      case PropertyRule::kCount:
        ok = IsCount(value, name == "Threads" ? 1 : 0);
        expected = name == "Threads" ? "a whole number from 1 to 1023"
                                     : "a whole number from 0 to 1023";
        break;
      case PropertyRule::kDeviceList: {
        ok = !value.empty();
        for (absl::string_view device : absl::StrSplit(value, ',')) {
          ok = ok && IsCount(device, 0);
        }
        expected = "device indices 0 to 1023, comma-separated (e.g. 0 or 0,1)";
        break;
      }
      case PropertyRule::kPrecision:
        ok = value == "single" || value == "mixed" || value == "double";
        expected = "single, mixed or double";
        break;
      case PropertyRule::kBoolean:
        ok = value == "true" || value == "false";
        expected = "true or false";
        break;
    }
    if (!ok) {
      return FieldError(field, absl::StrCat("is ", text::Shown(value),
                                            "; it must be ", expected));
    }
  }
  return absl::OkStatus();
}

// Names and labels travel in every Job, log line and metric label, so each
// is bounded, and free of control characters and invalid UTF-8 (a terminal
// or a Prometheus scrape would show them raw).
constexpr size_t kMaxNameBytes = 128;
constexpr size_t kMaxLabels = 32;
constexpr size_t kMaxLabelKeyBytes = 63;
constexpr size_t kMaxLabelValueBytes = 256;

absl::Status CheckText(absl::string_view field, absl::string_view text,
                       size_t max_bytes) {
  if (text.size() > max_bytes) {
    return FieldError(
        field, absl::StrCat("is ", text.size(), " bytes; at most ", max_bytes));
  }
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = text[i];
    if (c < 0x20 || c == 0x7F) {
      return FieldError(field, absl::StrCat("has a control character (byte ", i,
                                            "); use printable text"));
    }
  }
  if (!text::IsValidUtf8(text)) {
    return FieldError(field, "is not valid UTF-8");
  }
  return absl::OkStatus();
}

absl::Status CheckNames(const JobSpec& spec) {
  if (absl::Status status = CheckText("name", spec.name(), kMaxNameBytes);
      !status.ok()) {
    return status;
  }
  if (absl::Status status = CheckText("owner", spec.owner(), kMaxNameBytes);
      !status.ok()) {
    return status;
  }
  if (spec.labels_size() > static_cast<int>(kMaxLabels)) {
    return FieldError("labels", absl::StrCat("has ", spec.labels_size(),
                                             " labels; at most ", kMaxLabels));
  }
  for (const auto& [key, value] : spec.labels()) {
    if (key.empty()) return FieldError("labels", "a label's key is empty");
    if (absl::Status status = CheckText("labels", key, kMaxLabelKeyBytes);
        !status.ok()) {
      return status;
    }
    if (absl::Status status =
            CheckText(absl::StrCat("labels.", key), value, kMaxLabelValueBytes);
        !status.ok()) {
      return status;
    }
  }
  return absl::OkStatus();
}

// Workers hand these documents to OpenMM, whose XML parser crashes on
// malformed ones (lib/xml), so they are refused at submission.
absl::Status CheckXml(absl::string_view field, absl::string_view document) {
  absl::StatusOr<xml::Root> root = xml::CheckDocument(document);
  if (root.ok()) return absl::OkStatus();
  return FieldError(
      field, absl::StrCat("not well-formed XML: ", root.status().message(),
                          "; write it with OpenMM's "
                          "XmlSerializer"));
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
    // Names starting with '.' are the coordinator's (its job index).
    if (!part.empty() && part.string()[0] == '.' && part != ".") {
      return FieldError("output.directory",
                        absl::StrCat("\"", output.directory(),
                                     "\" has a part starting with '.', which "
                                     "is reserved; name a visible directory"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

void ApplyDefaults(v1::JobSpec& spec) {
  // Proto3 scalars have no presence: 0 and "" mean "unset". Friction is the
  // exception: 0 is a real choice (no thermostat coupling), so the field is
  // optional and only an absent one gets the default.
  v1::Integrator& integrator = *spec.mutable_integrator();
  if (integrator.timestep_ps() == 0) {
    integrator.set_timestep_ps(kDefaultTimestepPs);
  }
  if (!integrator.has_friction_per_ps()) {
    integrator.set_friction_per_ps(kDefaultFrictionPerPs);
  }
  if (spec.platform().empty()) spec.set_platform(kDefaultPlatform);
  if (spec.exchange().scheme() == v1::Exchange::SCHEME_UNSPECIFIED) {
    spec.mutable_exchange()->set_scheme(v1::Exchange::NEIGHBORS);
  }
  // Spelling the spacing out makes a stored spec mean the same thing even if
  // a default changes later.
  std::vector<v1::Ladder*> ladders = {spec.mutable_ladder()};
  for (v1::Ladder& axis : *spec.mutable_ladder()->mutable_axes()) {
    ladders.push_back(&axis);
  }
  for (v1::Ladder* ladder : ladders) {
    if (ladder->has_temperature_range_k() &&
        ladder->temperature_range_k().spacing() == Range::SPACING_UNSPECIFIED) {
      ladder->mutable_temperature_range_k()->set_spacing(Range::GEOMETRIC);
    }
    for (v1::ParameterLadder& parameter : *ladder->mutable_parameters()) {
      if (parameter.has_range() &&
          parameter.range().spacing() == Range::SPACING_UNSPECIFIED) {
        parameter.mutable_range()->set_spacing(Range::LINEAR);
      }
    }
  }
}

namespace {

// Either none or one per rung, each non-empty and, for State XML,
// well-formed. The engine checks each against the System as it loads them.
absl::Status CheckReplicaStarts(
    const v1::JobSpec& spec, const absl::StatusOr<exchange::Ladder>& ladder) {
  const int starts = spec.replica_starts_size();
  if (starts == 0) return absl::OkStatus();
  if (ladder.ok() && starts != ladder->size()) {
    return FieldError(
        "replica_starts",
        absl::StrCat(starts, " starting structures for ", ladder->size(),
                     " rungs; give one per replica (replica i starts from the "
                     "i-th), or none to start every replica from "
                     "coordinates"));
  }
  for (int i = 0; i < starts; ++i) {
    const v1::Coordinates& start = spec.replica_starts(i);
    const std::string field = absl::StrCat("replica_starts[", i, "]");
    if (start.state_xml().empty() && start.pdb().empty()) {
      return FieldError(field,
                        "empty; name an OpenMM State XML or a .pdb file");
    }
    if (!start.state_xml().empty()) {
      if (absl::Status status = CheckXml(field, start.state_xml());
          !status.ok()) {
        return status;
      }
    }
  }
  return absl::OkStatus();
}

// exchange.mode: asynchronous exchange has no rounds common to all
// replicas, so nothing that happens at a round: a ladder change, a round of
// every rung's energies.
absl::Status CheckMode(const v1::JobSpec& spec) {
  const v1::Exchange& exchange = spec.exchange();
  if (!v1::Exchange::Mode_IsValid(exchange.mode())) {
    return UnknownName("exchange.mode", "an exchange mode",
                       absl::StrCat(static_cast<int>(exchange.mode())),
                       NamesOf(ModeNames()));
  }
  if (exchange.mode() != v1::Exchange::ASYNCHRONOUS) return absl::OkStatus();
  if (spec.ladder().has_adapt()) {
    return FieldError("ladder.adapt",
                      "an adaptive ladder changes at set rounds, which "
                      "asynchronous exchange does not have; remove adapt or "
                      "set exchange.mode: synchronous");
  }
  if (exchange.energies_every() > 0) {
    return FieldError("exchange.energies_every",
                      "asynchronous exchange has no rounds to evaluate every "
                      "rung's energy at; remove it or set exchange.mode: "
                      "synchronous");
  }
  return absl::OkStatus();
}

// ladder.adapt: an ordinary ladder (temperatures, parameters or both) of 3
// or more rungs, or a grid with an axis of 3 or more (equal acceptance
// only), at one pressure, with exchanges, and a production phase after the
// adaptation.
// `built` is the spec's ladder (its errors are Validate's to report).
absl::Status CheckAdaptation(const v1::JobSpec& spec,
                             const absl::StatusOr<exchange::Ladder>& built) {
  if (!spec.ladder().has_adapt()) return absl::OkStatus();
  const v1::LadderAdaptation& adapt = spec.ladder().adapt();
  if (!v1::LadderAdaptation::Target_IsValid(adapt.target())) {
    return UnknownName("ladder.adapt.target", "an adaptation target",
                       absl::StrCat(static_cast<int>(adapt.target())),
                       NamesOf(AdaptTargetNames()));
  }
  if (!built.ok()) return absl::OkStatus();
  if (built->has_pressures()) {
    return FieldError("ladder.adapt",
                      "a ladder with per-rung pressures does not adapt; "
                      "remove adapt or ladder.pressures_bar");
  }
  if (built->axes() > 1) {
    bool movable = false;
    for (int extent : built->shape()) movable = movable || extent >= 3;
    if (!movable) {
      return FieldError("ladder.adapt",
                        "no axis of this grid has 3 or more rungs, so none "
                        "has an inner rung to move; remove adapt");
    }
    if (adapt.target() == v1::LadderAdaptation::ROUND_TRIPS) {
      return FieldError("ladder.adapt.target",
                        "round_trips needs one path between two ends, which "
                        "a grid does not have; use equal_acceptance (each "
                        "axis is re-spaced along its own values)");
    }
  } else if (built->size() < 3) {
    return FieldError("ladder.adapt",
                      "a ladder of fewer than 3 rungs has no inner rung to "
                      "move; remove adapt");
  }
  if (spec.exchange().scheme() == v1::Exchange::NONE) {
    return FieldError("ladder.adapt",
                      "exchange.scheme none makes no exchanges to adapt to; "
                      "choose neighbors or gibbs, or remove adapt");
  }
  for (absl::Status status :
       {AtLeast(adapt.interval(), kMinAdaptInterval, "ladder.adapt.interval",
                "rounds between changes of the ladder (each change measures "
                "acceptance over them)"),
        AtLeast(adapt.rounds(), adapt.interval(), "ladder.adapt.rounds",
                "rounds of the adaptation phase (at least one interval)")}) {
    if (!status.ok()) return status;
  }
  // Every version is kept, in the driver and in analysis.json.
  const int64_t changes =
      (int64_t{adapt.rounds()} + adapt.interval() - 1) / adapt.interval();
  if (changes > kMaxAdaptChanges) {
    return FieldError(
        "ladder.adapt.interval",
        absl::StrCat(
            adapt.interval(), " makes ", changes,
            " changes of the ladder in ladder.adapt.rounds = ", adapt.rounds(),
            "; at most ", kMaxAdaptChanges, " are kept: raise interval"));
  }
  if (adapt.rounds() >= spec.exchange().n_rounds()) {
    return FieldError(
        "ladder.adapt.rounds",
        absl::StrCat(adapt.rounds(), " leaves no production rounds of the ",
                     spec.exchange().n_rounds(),
                     " in exchange.n_rounds; make it smaller, or raise "
                     "n_rounds"));
  }
  return absl::OkStatus();
}

}  // namespace

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
  // Built once: the ladder checks below all need it.
  const absl::StatusOr<exchange::Ladder> ladder = BuildLadder(spec.ladder());
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
        ladder.status(),
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
        AtLeast(exchange.energies_every(), 0, "exchange.energies_every",
                "rounds between evaluations of every rung's energy; 0 means "
                "only those the scheme needs"),
        AtLeast(spec.checkpoint_interval(), 0, "checkpoint_interval",
                "rounds between checkpoints; 0 means only at the end"),
        CheckOutput(spec.output()), CheckPlatformProperties(spec),
        CheckNames(spec), CheckAdaptation(spec, ladder), CheckMode(spec)}) {
    if (!status.ok()) return status;
  }
  return CheckReplicaStarts(spec, ladder);
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
