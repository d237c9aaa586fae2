// The job specification: its YAML form, validation with errors that name the
// field and the fix, and conversion to the exchange library's ladder.
#pragma once

#include <filesystem>
#include <string>

#include "absl/status/statusor.h"
#include "lib/exchange/ladder.h"
#include "lib/exchange/scheme.h"
#include "replex/v1/job.pb.h"

namespace replex::spec {

// Defaults applied by ApplyDefaults (and documented in docs/job-spec.md).
inline constexpr double kDefaultTimestepPs = 0.002;
inline constexpr double kDefaultFrictionPerPs = 1.0;
inline constexpr const char* kDefaultPlatform = "CPU";

// Parses the YAML form (docs/job-spec.md). `system` and `coordinates` name
// files, resolved against `base_dir` and inlined into system_xml and
// state_xml/pdb (by extension: .pdb is PDB, anything else State XML). Unknown
// keys are errors that list the known ones. Returns INVALID_ARGUMENT naming
// the YAML path (e.g. "exchange.steps_per_exchange") on any problem, and
// NOT_FOUND naming the file when an input file cannot be read. Calls
// ApplyDefaults and Validate.
absl::StatusOr<v1::JobSpec> ParseYaml(const std::string& yaml,
                                      const std::filesystem::path& base_dir);
absl::StatusOr<v1::JobSpec> LoadYamlFile(const std::filesystem::path& path);

// Fills unset optional fields with their defaults (timestep, friction,
// platform, scheme).
void ApplyDefaults(v1::JobSpec& spec);

// Checks everything that can be checked without OpenMM: ladder shape and
// values (finite, positive, increasing temperatures), steps/rounds > 0,
// checkpoint_interval >= 0, non-empty system and coordinates, known scheme,
// platform name among Reference/CPU/OpenCL/CUDA. INVALID_ARGUMENT naming the
// field and what to do.
absl::Status Validate(const v1::JobSpec& spec);

// Expands explicit values and ranges into an exchange::Ladder.
absl::StatusOr<exchange::Ladder> BuildLadder(const v1::Ladder& ladder);

exchange::Scheme SchemeOf(const v1::Exchange& exchange);

}  // namespace replex::spec
